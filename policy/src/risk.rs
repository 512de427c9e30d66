//! Risk gates as policy-as-code: a Rego policy, evaluated with regorus,
//! decides per app registration whether it goes live ([`Gate::Auto`]), goes
//! live with findings to fix within a deadline ([`Gate::Annotated`]), or waits
//! for an admin ([`Gate::Review`]).
//!
//! The policy is a Rego v1 module in package `nameplate.risk` whose rule
//! `gate` maps `input` (a [`Registration`] as JSON) to a [`Gate`] as JSON;
//! [`DEFAULT_POLICY`] documents the contract and is what runs unless the
//! operator configures another. The policy is parsed and prepared once by
//! [`RiskGate::new`]; each evaluation runs on a clone of the prepared engine,
//! so a [`RiskGate`] is shared between threads without a lock.
//!
//! Everything fails closed: a policy that does not load (see
//! [`RiskGate::closed`]), errors, runs past [`EVAL_TIME_LIMIT`], leaves `gate`
//! undefined or returns something that is not a gate yields
//! [`Gate::fail_closed`], a review, while [`RiskGate::try_evaluate`] returns
//! the reason for the log. Only regorus's core builtins are compiled in
//! (no `regex`, `time`, `http`, ...); a policy that calls others fails to load.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use serde::{Deserialize, Serialize};

use crate::{Error, Label};

/// The default policy (`policy/default.rego`).
pub const DEFAULT_POLICY: &str = include_str!("../default.rego");

/// The rule nameplate evaluates.
pub const GATE_RULE: &str = "data.nameplate.risk.gate";

/// How long one evaluation may run before it fails (closed).
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(1);

/// The package the policy must declare, as regorus reports it.
const PACKAGE: &str = "data.nameplate.risk";

/// The file name regorus shows in error messages.
const POLICY_PATH: &str = "risk-policy.rego";

/// Who can reach an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// Only from inside the company network.
    Internal,
    /// From the internet.
    External,
}

/// The most sensitive data an app handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataClass {
    /// Anyone may see it.
    Public,
    /// Employees may see it.
    Internal,
    /// Some employees may see it.
    Confidential,
    /// Regulated or secret data.
    Restricted,
}

/// An app registration, the policy's `input`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The app label.
    pub app: Label,
    /// The owning team.
    pub team: Label,
    /// The environment.
    pub env: Label,
    /// The region, if the platform is region-split.
    #[serde(default)]
    pub region: Option<Label>,
    /// Who can reach it.
    pub exposure: Exposure,
    /// The most sensitive data it handles.
    pub data_class: DataClass,
    /// Capabilities it asks for (`websocket`, `host-network`, ...).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// One thing a policy found about a registration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// A stable machine-readable code, e.g. `external-sensitive-data`.
    pub code: String,
    /// What it means and what to do, for people.
    pub message: String,
}

/// What happens to a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "lowercase")]
pub enum Gate {
    /// Goes live at once.
    Auto,
    /// Goes live at once; the findings must be fixed within the deadline.
    Annotated {
        /// What to fix.
        findings: Vec<Finding>,
        /// Days from registration to fix them in.
        remediation_days: u32,
    },
    /// Waits for an admin's approval.
    Review {
        /// Why.
        #[serde(default)]
        findings: Vec<Finding>,
    },
}

impl Gate {
    /// The review a failed policy yields. Its finding tells the principal
    /// that the policy failed; the error from [`RiskGate::try_evaluate`] says
    /// how, for the log.
    pub fn fail_closed() -> Gate {
        Gate::Review {
            findings: vec![Finding {
                code: "policy-error".into(),
                message: "the risk policy could not be evaluated, so an admin must review this registration".into(),
            }],
        }
    }

    /// `auto`, `annotated` or `review`.
    pub fn name(&self) -> &'static str {
        match self {
            Gate::Auto => "auto",
            Gate::Annotated { .. } => "annotated",
            Gate::Review { .. } => "review",
        }
    }

    /// The findings (none for [`Gate::Auto`]).
    pub fn findings(&self) -> &[Finding] {
        match self {
            Gate::Auto => &[],
            Gate::Annotated { findings, .. } | Gate::Review { findings } => findings,
        }
    }

    /// Whether the registration's records go live at once.
    pub fn goes_live(&self) -> bool {
        !matches!(self, Gate::Review { .. })
    }
}

/// A loaded risk policy, or a closed gate that reviews everything.
#[derive(Clone)]
pub struct RiskGate {
    /// The prepared engine, or why there is none.
    engine: Result<regorus::Engine, String>,
}

impl RiskGate {
    /// Parses and prepares `policy`; fails if it does not parse, is not in
    /// package `nameplate.risk`, has no `gate` rule, or errors or returns
    /// something that is not a gate for an ordinary internal registration
    /// (a `gate` undefined for it is accepted and fails closed per call).
    pub fn new(policy: &str) -> Result<RiskGate, Error> {
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(true);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVAL_TIME_LIMIT,
            check_interval: NonZeroU32::MIN.saturating_add(99),
        });
        let package = engine.add_policy(POLICY_PATH.into(), policy.into()).map_err(|e| load_error(&e))?;
        if package != PACKAGE {
            return Err(Error::RiskPolicy(format!("the policy's package is {package}, not nameplate.risk")));
        }
        // A first evaluation prepares the engine (so clones start prepared) and
        // catches a missing `gate` rule and errors that parsing does not.
        decide(&mut engine, &Registration::probe()).map_err(|e| load_error(&e))?;
        Ok(RiskGate { engine: Ok(engine) })
    }

    /// A gate that sends every registration to review, for when the configured
    /// policy did not load; `reason` is what [`RiskGate::try_evaluate`] returns.
    pub fn closed(reason: impl Into<String>) -> RiskGate {
        RiskGate { engine: Err(reason.into()) }
    }

    /// [`RiskGate::new`], or a closed gate and the error that closed it.
    pub fn load(policy: &str) -> (RiskGate, Option<Error>) {
        match RiskGate::new(policy) {
            Ok(gate) => (gate, None),
            Err(e) => {
                let reason = match &e {
                    Error::RiskPolicy(reason) => reason.clone(),
                    other => other.to_string(),
                };
                (RiskGate::closed(reason), Some(e))
            }
        }
    }

    /// Whether a policy is loaded (false for a closed gate).
    pub fn is_loaded(&self) -> bool {
        self.engine.is_ok()
    }

    /// The gate for `registration`, failing closed to a review.
    pub fn evaluate(&self, registration: &Registration) -> Gate {
        self.try_evaluate(registration).unwrap_or_else(|_| Gate::fail_closed())
    }

    /// The gate for `registration`, or why the policy could not decide.
    pub fn try_evaluate(&self, registration: &Registration) -> Result<Gate, Error> {
        let mut engine = match &self.engine {
            Ok(engine) => engine.clone(),
            Err(reason) => return Err(Error::RiskPolicy(format!("no policy is loaded: {reason}"))),
        };
        evaluate(&mut engine, registration).map_err(Error::RiskPolicy)
    }
}

impl Default for RiskGate {
    /// The [`DEFAULT_POLICY`] (closed if it ever failed to load).
    fn default() -> Self {
        RiskGate::load(DEFAULT_POLICY).0
    }
}

impl fmt::Debug for RiskGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.engine {
            Ok(_) => f.write_str("RiskGate(loaded)"),
            Err(reason) => write!(f, "RiskGate(closed: {reason})"),
        }
    }
}

impl Registration {
    /// An ordinary registration for the load-time probe.
    fn probe() -> Registration {
        Registration {
            app: Label::trusted("probe"),
            team: Label::trusted("probe"),
            env: Label::trusted("prod"),
            region: None,
            exposure: Exposure::Internal,
            data_class: DataClass::Internal,
            capabilities: Vec::new(),
        }
    }
}

/// Runs the `gate` rule on `registration` and reads its value as a [`Gate`].
fn evaluate(engine: &mut regorus::Engine, registration: &Registration) -> Result<Gate, String> {
    decide(engine, registration)?.ok_or_else(|| format!("{GATE_RULE} is undefined for this registration"))
}

/// Runs the `gate` rule: `None` if it is undefined for `registration`.
fn decide(engine: &mut regorus::Engine, registration: &Registration) -> Result<Option<Gate>, String> {
    let input = serde_json::to_string(registration).map_err(|e| format!("encoding the input: {e}"))?;
    engine.set_input_json(&input).map_err(|e| format!("setting the input: {e}"))?;
    let value = engine.eval_rule(GATE_RULE.into()).map_err(|e| format!("evaluating {GATE_RULE}: {e}"))?;
    if value == regorus::Value::Undefined {
        return Ok(None);
    }
    let json = value.to_json_str().map_err(|e| format!("reading {GATE_RULE}: {e}"))?;
    serde_json::from_str(&json).map(Some).map_err(|e| format!("{GATE_RULE} is not a gate ({e}): {json}"))
}

/// A failure to load the policy.
fn load_error(e: &impl fmt::Display) -> Error {
    Error::RiskPolicy(format!("failed to load: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    fn registration(exposure: Exposure, data_class: DataClass, capabilities: &[&str]) -> Registration {
        Registration {
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
            exposure,
            data_class,
            ..Registration::probe()
        }
    }

    fn codes(gate: &Gate) -> Vec<&str> {
        gate.findings().iter().map(|f| f.code.as_str()).collect()
    }

    fn is_policy_error(gate: &Gate) -> bool {
        matches!(gate, Gate::Review { findings } if findings.len() == 1 && findings[0].code == "policy-error")
    }

    #[test]
    fn the_default_policy_has_three_tiers() {
        use DataClass::{Confidential, Public, Restricted};
        use Exposure::{External, Internal};
        let gate = RiskGate::new(DEFAULT_POLICY).unwrap();
        type Case<'a> = (Exposure, DataClass, &'a [&'a str], &'a str, &'a [&'a str]);
        let cases: &[Case] = &[
            (Internal, Public, &[], "auto", &[]),
            (Internal, DataClass::Internal, &[], "auto", &[]),
            (Internal, Confidential, &[], "annotated", &["internal-sensitive-data"]),
            (Internal, Restricted, &[], "annotated", &["internal-sensitive-data"]),
            (External, Public, &[], "annotated", &["external-exposure"]),
            (External, DataClass::Internal, &[], "annotated", &["external-exposure"]),
            (Internal, Public, &["websocket"], "annotated", &["capability"]),
            (Internal, Public, &["websocket", "websocket"], "annotated", &["capability"]),
            (External, Confidential, &[], "review", &["external-sensitive-data"]),
            (External, Restricted, &[], "review", &["external-sensitive-data"]),
            (Internal, Public, &["host-network"], "review", &["privileged-capability"]),
            (Internal, Public, &["privileged"], "review", &["privileged-capability"]),
            (Internal, Public, &["pii-export"], "review", &["privileged-capability"]),
            (
                External,
                Restricted,
                &["websocket", "privileged"],
                "review",
                &["capability", "external-sensitive-data", "privileged-capability"],
            ),
        ];
        for (exposure, data_class, capabilities, tier, expected) in cases {
            let result = gate.try_evaluate(&registration(*exposure, *data_class, capabilities)).unwrap();
            let what = format!("{exposure:?} {data_class:?} {capabilities:?}: {result:?}");
            assert_eq!(result.name(), *tier, "{what}");
            let mut found = codes(&result);
            found.sort_unstable();
            assert_eq!(found, *expected, "{what}");
            if let Gate::Annotated { remediation_days, .. } = result {
                assert_eq!(remediation_days, 7, "{what}");
            }
        }
    }

    #[test]
    fn findings_name_what_they_found() {
        let gate = RiskGate::default();
        assert!(gate.is_loaded());
        let result = gate.evaluate(&registration(Exposure::Internal, DataClass::Public, &["host-network"]));
        assert_eq!(result.findings()[0].message, "capability host-network is privileged and needs an admin's review");
        let result = gate.evaluate(&registration(Exposure::External, DataClass::Restricted, &[]));
        assert_eq!(result.findings()[0].message, "external exposure of restricted data needs an admin's review");
        assert!(!result.goes_live());
    }

    #[test]
    fn a_broken_policy_fails_to_load_and_the_closed_gate_reviews() {
        for (broken, why) in [
            ("package nameplate.risk\ngate := {", "failed to load"),
            ("package other\ngate := {\"gate\": \"auto\"}", "not nameplate.risk"),
            ("package nameplate.risk\nallow := true", "not a valid rule path"),
            ("package nameplate.risk\ngate := {\"gate\": \"auto\"} if input.x == nope", "unsafe"),
            (
                "package nameplate.risk\ngate := {\"gate\": \"auto\"} if regex.match(\"a\", \"a\")",
                "could not find function",
            ),
            ("", "failed to load"),
        ] {
            let (gate, err) = RiskGate::load(broken);
            let err = err.unwrap_or_else(|| panic!("loaded: {broken}"));
            assert!(err.to_string().contains(why), "{broken}: {err}");
            assert!(!gate.is_loaded());
            let reg = Registration::probe();
            assert!(is_policy_error(&gate.evaluate(&reg)), "{broken}");
            let reason = gate.try_evaluate(&reg).unwrap_err().to_string();
            assert!(reason.starts_with("risk policy: no policy is loaded: "), "{reason}");
            assert!(reason.contains(why) && !reason.contains("loaded: risk policy"), "{reason}");
        }
    }

    #[test]
    fn a_rule_that_errors_at_evaluation_fails_closed_with_the_reason() {
        let policy = r#"package nameplate.risk
gate := {"gate": "auto"} if not "boom" in input.capabilities
gate := {"gate": "auto", "n": to_number("x")} if "boom" in input.capabilities
"#;
        let gate = RiskGate::new(policy).unwrap();
        assert_eq!(gate.evaluate(&Registration::probe()), Gate::Auto);
        let boom = registration(Exposure::Internal, DataClass::Public, &["boom"]);
        assert!(is_policy_error(&gate.evaluate(&boom)));
        let reason = gate.try_evaluate(&boom).unwrap_err().to_string();
        assert!(reason.contains("evaluating data.nameplate.risk.gate"), "{reason}");
    }

    #[test]
    fn conflicting_undefined_or_malformed_decisions_fail_closed() {
        const AUTO_FOR_PROBE: &str =
            "package nameplate.risk\ngate := {\"gate\": \"auto\"} if input.team == \"probe\"\n";
        let at_evaluation = [
            (
                "gate := {\"gate\": \"review\"} if input.team == \"other\"\ngate := {\"gate\": \"auto\"} if input.app == \"probe\"",
                "conflicts",
            ),
            ("", "undefined"),
            ("gate := {\"gate\": \"maybe\"} if input.team == \"other\"", "not a gate"),
            (
                "gate := {\"gate\": \"annotated\", \"findings\": []} if input.team == \"other\"",
                "missing field `remediation_days`",
            ),
            ("gate := \"auto\" if input.team == \"other\"", "not a gate"),
        ];
        let other = Registration { team: Label::new("other").unwrap(), ..Registration::probe() };
        for (rules, why) in at_evaluation {
            let policy = format!("{AUTO_FOR_PROBE}{rules}");
            let gate = RiskGate::new(&policy).unwrap();
            let reason = gate.try_evaluate(&other).unwrap_err().to_string();
            assert!(reason.contains(why), "{policy}: {reason}");
            assert!(is_policy_error(&gate.evaluate(&other)), "{policy}");
        }
    }

    #[test]
    fn malformed_decisions_fail_at_load_but_undefined_ones_do_not() {
        let load = |rules: &str| RiskGate::new(&format!("package nameplate.risk\n{rules}"));
        let err = load("gate := {\"gate\": \"annotated\", \"findings\": []}").unwrap_err().to_string();
        assert!(err.contains("missing field `remediation_days`"), "{err}");
        let err = load("gate := {\"gate\": \"auto\"}\ngate := {\"gate\": \"review\"} if input.team == \"probe\"");
        assert!(err.unwrap_err().to_string().contains("conflicts"));
        let partial = load("gate := {\"gate\": \"auto\"} if input.env == \"dev\"").unwrap();
        assert!(partial.try_evaluate(&Registration::probe()).unwrap_err().to_string().contains("undefined"));
    }

    #[test]
    fn an_operator_policy_replaces_the_default() {
        let policy = r#"package nameplate.risk
gate := {"gate": "review", "findings": [{"code": "prod", "message": "prod needs review"}]} if input.env == "prod"
gate := {"gate": "auto"} if input.env != "prod"
"#;
        let gate = RiskGate::new(policy).unwrap();
        let prod = gate.evaluate(&Registration::probe());
        assert_eq!(codes(&prod), ["prod"]);
        let dev = Registration { env: Label::new("dev").unwrap(), ..Registration::probe() };
        assert_eq!(gate.evaluate(&dev), Gate::Auto);
    }

    #[test]
    fn a_runaway_policy_is_stopped_and_fails_closed() {
        let policy = r#"package nameplate.risk
gate := {"gate": "auto"} if input.team == "probe"
gate := {"gate": "auto", "n": count({1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)})} if input.team == "slow"
"#;
        let gate = RiskGate::new(policy).unwrap();
        let slow = Registration { team: Label::new("slow").unwrap(), ..Registration::probe() };
        let reason = gate.try_evaluate(&slow).unwrap_err().to_string();
        assert!(reason.contains("time limit"), "{reason}");
        assert!(is_policy_error(&gate.evaluate(&slow)));
    }

    #[test]
    fn the_gate_is_shared_between_threads() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let gate = std::sync::Arc::new(RiskGate::default());
        shareable(&gate);
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    let exposure = if i % 2 == 0 { Exposure::Internal } else { Exposure::External };
                    gate.evaluate(&registration(exposure, DataClass::Public, &[])).name()
                })
            })
            .collect();
        let names: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(names, ["auto", "annotated", "auto", "annotated"]);
    }

    #[test]
    fn registrations_and_gates_are_lowercase_json() {
        let reg = registration(Exposure::External, DataClass::Confidential, &["websocket"]);
        let json = serde_json::to_value(&reg).unwrap();
        assert_eq!(json["exposure"], "external");
        assert_eq!(json["data_class"], "confidential");
        assert_eq!(serde_json::from_value::<Registration>(json).unwrap(), reg);
        let bad = r#"{"app":"a","team":"t","env":"prod","exposure":"public","data_class":"public"}"#;
        assert!(serde_json::from_str::<Registration>(bad).is_err());
        let extra = r#"{"app":"a","team":"t","env":"prod","exposure":"internal","data_class":"public","x":1}"#;
        assert!(serde_json::from_str::<Registration>(extra).is_err());
        assert_eq!(serde_json::to_string(&Gate::Auto).unwrap(), r#"{"gate":"auto"}"#);
        let annotated = Gate::Annotated { findings: vec![], remediation_days: 7 };
        assert_eq!(
            serde_json::to_string(&annotated).unwrap(),
            r#"{"gate":"annotated","findings":[],"remediation_days":7}"#
        );
    }
}
