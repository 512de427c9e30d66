//! Prometheus metrics: `GET /metrics` in the text exposition format 0.0.4.
//!
//! The scrape writes, in this order: the API's own request counter
//! (`nameplate_api_requests_total{method,route,status}`, counted by the
//! [`count_requests`] middleware), the store's figures (change sets, zones,
//! records), then every injected [`MetricsSource`] (the DNS counters of the
//! binary). Label values are bounded: `route` is the route's pattern
//! (axum's `MatchedPath`, e.g. `/api/v1/zones/{zone}/rrsets`) or
//! `unmatched`, and `method` is one of the standard methods or `other`.
//! Samples are written only for label sets seen at least once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, App, AppState};

/// The `Content-Type` of the text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Something that adds its metrics to a scrape of `/metrics` (the DNS
/// counters, for instance, which live in a crate the API does not depend
/// on). Injected as `Arc<dyn MetricsSource>` with
/// [`AppState::with_metrics`].
pub trait MetricsSource: Send + Sync {
    /// Appends complete metric families (`# HELP`, `# TYPE` and samples, see
    /// [`Exposition`]) to `out`. Called on a blocking thread at every
    /// scrape; it should be quick and must not block on the answer path.
    fn render(&self, out: &mut String);
}

/// Writes the Prometheus text format (0.0.4) into a string: a family's
/// `# HELP` and `# TYPE` lines, then its samples. Names and label names are
/// the caller's constants and must be valid Prometheus names; help text and
/// label values are escaped.
#[derive(Debug)]
pub struct Exposition<'a> {
    out: &'a mut String,
}

impl<'a> Exposition<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Self { out }
    }

    /// Starts a counter family: its `# HELP` and `# TYPE ... counter` lines.
    pub fn counter(&mut self, name: &str, help: &str) -> &mut Self {
        self.family(name, "counter", help)
    }

    /// Starts a gauge family: its `# HELP` and `# TYPE ... gauge` lines.
    pub fn gauge(&mut self, name: &str, help: &str) -> &mut Self {
        self.family(name, "gauge", help)
    }

    /// One sample line: `name{label="value",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape(self.out, text, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}"); // writing to a String cannot fail
        self
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = write!(self.out, "# HELP {name} ");
        escape(self.out, help, false);
        let _ = writeln!(self.out, "\n# TYPE {name} {kind}");
        self
    }
}

/// Appends `text` with `\` and newlines escaped, and `"` too in label values.
fn escape(out: &mut String, text: &str, label_value: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// The API's metrics state: the injected sources and the request counter.
pub(crate) struct Metrics {
    sources: Vec<Arc<dyn MetricsSource>>,
    requests: Mutex<BTreeMap<RequestKey, u64>>,
}

/// (method, route, status) of an answered request.
type RequestKey = (&'static str, String, u16);

impl Metrics {
    /// No requests counted yet; `sources` rendered after the API's own.
    pub(crate) fn new(sources: Vec<Arc<dyn MetricsSource>>) -> Self {
        Self { sources, requests: Mutex::new(BTreeMap::new()) }
    }

    fn count(&self, key: RequestKey) {
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *requests.entry(key).or_default() += 1;
    }

    fn render_requests(&self, text: &mut Exposition<'_>) {
        const NAME: &str = "nameplate_api_requests_total";
        text.counter(NAME, "API requests answered, by method, route pattern and status.");
        let requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((method, route, status), count) in requests.iter() {
            let status = status.to_string();
            text.sample(NAME, &[("method", method), ("route", route), ("status", &status)], *count);
        }
    }
}

/// Middleware (added with `from_fn_with_state` over the whole router):
/// counts every answered request by method, matched route and status.
pub(crate) async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    state.metrics.count((method, route, response.status().as_u16()));
    response
}

/// `GET /metrics`: everything, in the text format.
pub(crate) async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let app = state.0.clone();
    let body = tokio::task::spawn_blocking(move || render(&app))
        .await
        .map_err(|e| ApiError::Internal(format!("metrics task failed: {e}")))?;
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response())
}

/// The whole exposition: requests, store figures, then the sources.
fn render(app: &App) -> String {
    let mut out = String::with_capacity(4096);
    let mut text = Exposition::new(&mut out);
    app.metrics.render_requests(&mut text);
    render_store(app, &mut text);
    for source in &app.metrics.sources {
        source.render(&mut out);
    }
    out
}

/// Change sets applied since start, and the zones and records served now.
fn render_store(app: &App, text: &mut Exposition<'_>) {
    let snapshot = app.store.snapshot();
    let zones = snapshot.zones();
    let records: usize = zones.iter().map(|zone| zone.record_count()).sum();
    text.counter("nameplate_change_sets_total", "Zone changes (journal entries) written since the server started.")
        .sample("nameplate_change_sets_total", &[], app.store.change_sets_applied());
    text.gauge("nameplate_zones", "Zones served.").sample("nameplate_zones", &[], zones.len() as u64);
    text.gauge("nameplate_records", "Records in the zones served.").sample("nameplate_records", &[], records as u64);
}

/// The standard methods by name; anything else (extension methods are
/// unbounded) is `other`.
fn method_label(method: &Method) -> &'static str {
    const NAMES: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    NAMES.into_iter().find(|name| *name == method.as_str()).unwrap_or("other")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use axum::body::Body;
    use axum::http::StatusCode;
    use tempfile::TempDir;
    use tower::ServiceExt;
    use zones::Store;

    use super::*;
    use crate::{Clock, Config, app, ensure_admin_token};

    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        }
    }

    /// A source standing in for the DNS side.
    struct Fake;

    impl MetricsSource for Fake {
        fn render(&self, out: &mut String) {
            Exposition::new(out).counter("fake_total", "A fake.").sample("fake_total", &[("kind", "x")], 7);
        }
    }

    const ZONE: &str = "$ORIGIN apps.company.com.\n\
        @ 3600 IN SOA ns1 hostmaster.company.com. 1 3600 600 604800 60\n\
        @ 3600 IN NS ns1\n\
        ns1 3600 IN A 127.0.0.1\n\
        www 300 IN A 192.0.2.1\n\
        www 300 IN A 192.0.2.2\n";

    #[test]
    fn families_have_help_and_type_and_samples_their_labels() {
        let mut out = String::new();
        Exposition::new(&mut out)
            .counter("x_total", "Things.")
            .sample("x_total", &[("a", "1"), ("b", "two")], 3)
            .gauge("y", "Level.")
            .sample("y", &[], 0);
        assert_eq!(
            out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"1\",b=\"two\"} 3\n\
             # HELP y Level.\n# TYPE y gauge\ny 0\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = String::new();
        Exposition::new(&mut out).counter("x", "a \\ b\nc \"q\"").sample("x", &[("v", "a\"b\\c\nd")], 1);
        assert_eq!(out, "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x counter\nx{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    async fn call(app: &axum::Router, method: Method, path: &str, token: Option<&str>) -> Response {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn scrape_counts_requests_by_route_pattern_and_adds_store_and_sources() {
        let dir = TempDir::new().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
        let admin = ensure_admin_token(&store, dir.path(), FixedClock.now()).unwrap().unwrap();
        store.put_zone(zones::zonefile::parse(ZONE, None).unwrap(), "test", "seed", FixedClock.now()).unwrap();
        let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap();
        let sources: Vec<Arc<dyn MetricsSource>> = vec![Arc::new(Fake)];
        let state = AppState::with_metrics(store.clone(), Arc::new(FixedClock), Config::new(policy), sources);
        let app = app(state);

        for _ in 0..2 {
            assert_eq!(call(&app, Method::GET, "/api/v1/teams", None).await.status(), StatusCode::UNAUTHORIZED);
        }
        let team = call(&app, Method::GET, "/api/v1/teams/platform", Some(&admin)).await;
        assert_eq!(team.status(), StatusCode::OK);
        let rrsets = call(&app, Method::GET, "/api/v1/zones/apps.company.com/rrsets", Some(&admin)).await;
        assert_eq!(rrsets.status(), StatusCode::OK);
        assert_eq!(call(&app, Method::GET, "/nowhere/at/all", None).await.status(), StatusCode::NOT_FOUND);
        let scraped = call(&app, Method::GET, "/metrics", None).await;
        assert_eq!(scraped.status(), StatusCode::OK);
        assert_eq!(scraped.headers()[header::CONTENT_TYPE], METRICS_CONTENT_TYPE);
        let body = axum::body::to_bytes(scraped.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();

        let expected = format!(
            "# HELP nameplate_api_requests_total API requests answered, by method, route pattern and status.\n\
             # TYPE nameplate_api_requests_total counter\n\
             nameplate_api_requests_total{{method=\"GET\",route=\"/api/v1/teams\",status=\"401\"}} 2\n\
             nameplate_api_requests_total{{method=\"GET\",route=\"/api/v1/teams/{{team}}\",status=\"200\"}} 1\n\
             nameplate_api_requests_total{{method=\"GET\",route=\"/api/v1/zones/{{zone}}/rrsets\",status=\"200\"}} 1\n\
             nameplate_api_requests_total{{method=\"GET\",route=\"unmatched\",status=\"404\"}} 1\n\
             # HELP nameplate_change_sets_total Zone changes (journal entries) written since the server started.\n\
             # TYPE nameplate_change_sets_total counter\n\
             nameplate_change_sets_total {}\n\
             # HELP nameplate_zones Zones served.\n\
             # TYPE nameplate_zones gauge\n\
             nameplate_zones 1\n\
             # HELP nameplate_records Records in the zones served.\n\
             # TYPE nameplate_records gauge\n\
             nameplate_records 5\n\
             # HELP fake_total A fake.\n\
             # TYPE fake_total counter\n\
             fake_total{{kind=\"x\"}} 7\n",
            store.change_sets_applied()
        );
        assert_eq!(text, expected);
        assert!(store.change_sets_applied() >= 1, "put_zone is a journaled change");

        // The scrape itself was counted once it was answered.
        let again = call(&app, Method::GET, "/metrics", None).await;
        let body = axum::body::to_bytes(again.into_body(), usize::MAX).await.unwrap();
        let line = "nameplate_api_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1\n";
        assert!(String::from_utf8(body.to_vec()).unwrap().contains(line));
    }
}
