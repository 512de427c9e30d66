# nameplate's default risk gate (Rego v1, evaluated by regorus).
#
# nameplate evaluates `data.nameplate.risk.gate` once per app registration.
#
# input: the registration
#   {"app": "timesheet", "team": "hr", "env": "prod", "region": null,
#    "exposure": "internal" | "external",
#    "data_class": "public" | "internal" | "confidential" | "restricted",
#    "capabilities": ["websocket", ...]}
#
# gate: one of
#   {"gate": "auto"}
#   {"gate": "annotated", "findings": [{"code": ..., "message": ...}], "remediation_days": 7}
#   {"gate": "review", "findings": [...]}
#
# auto: the records go live. annotated: they go live and the findings must be
# remediated within `remediation_days`. review: they stay pending until an
# admin approves. A policy that fails to load, errors, leaves `gate` undefined
# or returns anything else sends every registration to review (fail closed).
#
# The three tiers, by exposure and data class:
#
#   exposure \ data   public     internal   confidential  restricted
#   internal          auto       auto       annotated     annotated
#   external          annotated  annotated  review        review
#
# and by capability: a privileged one (below) means review; any other one is
# a minor finding (annotated). Review lists every finding, minor ones too.
package nameplate.risk

remediation_days := 7

sensitive := {"confidential", "restricted"}

privileged := {"host-network", "privileged", "pii-export"}

review_findings contains finding if {
	input.exposure == "external"
	input.data_class in sensitive
	finding := {
		"code": "external-sensitive-data",
		"message": sprintf("external exposure of %s data needs an admin's review", [input.data_class]),
	}
}

review_findings contains finding if {
	some capability in input.capabilities
	capability in privileged
	finding := {
		"code": "privileged-capability",
		"message": sprintf("capability %s is privileged and needs an admin's review", [capability]),
	}
}

minor_findings contains finding if {
	input.exposure == "internal"
	input.data_class in sensitive
	finding := {
		"code": "internal-sensitive-data",
		"message": sprintf("%s data: confirm access control and retention", [input.data_class]),
	}
}

minor_findings contains finding if {
	input.exposure == "external"
	not input.data_class in sensitive
	finding := {
		"code": "external-exposure",
		"message": "external exposure: confirm authentication and rate limits",
	}
}

minor_findings contains finding if {
	some capability in input.capabilities
	not capability in privileged
	finding := {
		"code": "capability",
		"message": sprintf("capability %s: document why the app needs it", [capability]),
	}
}

gate := {"gate": "review", "findings": sort(review_findings | minor_findings)} if {
	count(review_findings) > 0
}

gate := {"gate": "annotated", "findings": sort(minor_findings), "remediation_days": remediation_days} if {
	count(review_findings) == 0
	count(minor_findings) > 0
}

gate := {"gate": "auto"} if {
	count(review_findings) == 0
	count(minor_findings) == 0
}
