//! LoadDensity's action vocabulary as ld-tower answers it: every name
//! `je_load_density` 0.0.79 registers (its 149 `LD_*` actions and the 22
//! Python builtins its executor also runs), each either run by ld-tower
//! or refused with the reason, and the closest known name to a typo.
//!
//! ```
//! use ld_tower::actions::vocabulary::{self, Answer};
//!
//! assert_eq!(vocabulary::answer("LD_start_test"), Some(Answer::Supported));
//! assert!(matches!(
//!     vocabulary::answer("LD_add_package_to_executor"),
//!     Some(Answer::Refused(why)) if why.contains("arbitrary")
//! ));
//! assert_eq!(vocabulary::answer("LD_no_such_thing"), None);
//! ```

/// How ld-tower answers one of LoadDensity's action names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// ld-tower runs it (see the README for any difference).
    Supported,
    /// ld-tower refuses it, for this reason.
    Refused(&'static str),
}

use Answer::{Refused, Supported};

const NOTIFIER: &str = "out of scope: ld-tower posts to no chat, paging or review service; gate CI on `ld-tower run`'s exit status and LD_generate_junit_report, and let CI notify";
const SECURITY: &str = "out of scope: an attack-payload builder, not load testing; use a security scanner (OWASP ZAP, Burp) for this";
const CHAOS: &str = "out of scope: drives a fault injector on other hosts (Toxiproxy's API, kubectl for Chaos Mesh) from the agent; run the fault injector beside the test";
const AI: &str = "out of scope: builds a prompt for a language model; LD_diff_runs and LD_trend_runs give the figures to hand to one";
const PYTHON: &str =
    "a Python builtin that LoadDensity's executor exposes; ld-tower runs no Python";
/// Every LoadDensity action name, in its executor's order, with ld-tower's
/// answer.
pub const LOADDENSITY_ACTIONS: &[(&str, Answer)] = &[
    ("LD_start_test", Supported),
    ("LD_execute_action", Supported),
    ("LD_execute_files", Supported),
    ("LD_add_package_to_executor", Refused("it imports a Python package into the executor so its functions become actions: arbitrary code, never on a remote-controlled agent")),
    ("LD_generate_html", Supported),
    ("LD_generate_html_report", Supported),
    ("LD_generate_json", Supported),
    ("LD_generate_json_report", Supported),
    ("LD_generate_xml", Supported),
    ("LD_generate_xml_report", Supported),
    ("LD_generate_csv_report", Supported),
    ("LD_generate_junit_report", Supported),
    ("LD_generate_summary_report", Supported),
    ("LD_generate_chart_report", Refused("the charts (latency percentiles and requests per second over time) are in LD_generate_html_report, as inline SVG; no matplotlib PNGs")),
    ("LD_summary", Supported),
    ("LD_persist_records", Supported),
    ("LD_list_runs", Supported),
    ("LD_fetch_run_records", Supported),
    ("LD_clear_records", Supported),
    ("LD_register_variable", Supported),
    ("LD_register_variables", Supported),
    ("LD_register_csv_source", Supported),
    ("LD_register_csv_sources", Supported),
    ("LD_clear_resolver", Supported),
    ("LD_load_har", Supported),
    ("LD_har_to_tasks", Supported),
    ("LD_har_to_action_json", Supported),
    ("LD_load_postman_collection", Supported),
    ("LD_postman_to_tasks", Supported),
    ("LD_postman_to_action_json", Supported),
    ("LD_load_openapi", Supported),
    ("LD_openapi_to_tasks", Supported),
    ("LD_openapi_to_action_json", Supported),
    ("LD_curl_to_task", Supported),
    ("LD_load_k6_script", Refused("a k6 script is a JavaScript program; LoadDensity reads it by pattern, best effort, and silently drops what it does not recognise. Export the requests as a HAR (or cURL commands) and use LD_har_to_action_json or LD_curl_to_task")),
    ("LD_k6_script_to_tasks", Refused("a k6 script is a JavaScript program; LoadDensity reads it by pattern, best effort, and silently drops what it does not recognise. Export the requests as a HAR (or cURL commands) and use LD_har_to_tasks or LD_curl_to_task")),
    ("LD_k6_script_to_action_json", Refused("a k6 script is a JavaScript program; LoadDensity reads it by pattern, best effort, and silently drops what it does not recognise. Export the requests as a HAR (or cURL commands) and use LD_har_to_action_json")),
    ("LD_load_jmeter_jmx", Refused("a JMeter test plan's controllers, extractors, timers and assertions have no faithful task equivalent (LoadDensity keeps only the HTTP samplers and drops the rest silently); record the plan's traffic as a HAR and use LD_har_to_action_json")),
    ("LD_jmeter_to_tasks", Refused("a JMeter test plan's controllers, extractors, timers and assertions have no faithful task equivalent (LoadDensity keeps only the HTTP samplers and drops the rest silently); record the plan's traffic as a HAR and use LD_har_to_tasks")),
    ("LD_jmeter_to_action_json", Refused("a JMeter test plan's controllers, extractors, timers and assertions have no faithful task equivalent (LoadDensity keeps only the HTTP samplers and drops the rest silently); record the plan's traffic as a HAR and use LD_har_to_action_json")),
    ("LD_install_failure_budget", Refused("stopping a test when its failure rate passes a limit is LD_start_test's `thresholds` plus LD_stop_test from the client watching LD_test_status; no Locust event hooks to install")),
    ("LD_uninstall_failure_budget", Refused("stopping a test when its failure rate passes a limit is LD_start_test's `thresholds` plus LD_stop_test from the client watching LD_test_status; no Locust event hooks to install")),
    ("LD_install_network_conditioner", Refused("simulated latency and drops inside the load generator distort the very figures it measures; shape the network outside it (tc netem, Toxiproxy)")),
    ("LD_uninstall_network_conditioner", Refused("simulated latency and drops inside the load generator distort the very figures it measures; shape the network outside it (tc netem, Toxiproxy)")),
    ("LD_start_dashboard", Supported),
    ("LD_stop_dashboard", Supported),
    ("LD_start_statsd_sink", Supported),
    ("LD_stop_statsd_sink", Supported),
    ("LD_post_slack_summary", Refused(NOTIFIER)),
    ("LD_post_teams_summary", Refused(NOTIFIER)),
    ("LD_lint_action", Supported),
    ("LD_lint_action_file", Supported),
    ("LD_export_schema", Supported),
    ("LD_emit_github_annotations", Refused("it writes one annotation per failed request record, and ld-tower keeps per-name histograms, not a record per request; LD_generate_junit_report gives CI (GitHub included) the failures per name")),
    ("LD_evaluate_sla", Supported),
    ("LD_assert_sla", Supported),
    ("LD_diff_runs", Supported),
    ("LD_register_db_source", Supported),
    ("LD_register_db_sources", Supported),
    ("LD_start_prometheus_exporter", Supported),
    ("LD_stop_prometheus_exporter", Supported),
    ("LD_start_influxdb_sink", Supported),
    ("LD_stop_influxdb_sink", Supported),
    ("LD_start_opentelemetry_exporter", Supported),
    ("LD_stop_opentelemetry_exporter", Supported),
    ("LD_start_socket_server", Refused("ld-tower is the socket server: start it with `ld-tower serve` (an action may not open another listener on the agent)")),
    ("LD_generate_histogram_report", Refused("the latency distribution is in LD_generate_html_report, as an inline SVG chart; no matplotlib PNG")),
    ("LD_generate_pdf_report", Refused("no PDF writer: LD_generate_html_report is self-contained and prints to PDF from any browser")),
    ("LD_generate_allure_report", Refused("Allure reads JUnit XML: use LD_generate_junit_report")),
    ("LD_read_action_yaml", Supported),
    ("LD_write_action_yaml", Supported),
    ("LD_read_action_toml", Supported),
    ("LD_write_action_toml", Supported),
    ("LD_format_action_document", Supported),
    ("LD_format_action_file", Supported),
    ("LD_format_action_string", Supported),
    ("LD_generate_from_openapi", Supported),
    ("LD_generate_from_curls", Supported),
    ("LD_trend_runs", Supported),
    ("LD_cluster_errors", Refused("it groups failure records by message, and ld-tower keeps per-name histograms, not a record per request; LD_summary counts failures per name, and the JSON report's series counts them per status code each second")),
    ("LD_post_pagerduty_event", Refused(NOTIFIER)),
    ("LD_post_opsgenie_alert", Refused(NOTIFIER)),
    ("LD_post_gitlab_mr_summary", Refused(NOTIFIER)),
    ("LD_start_opentelemetry_tracing_exporter", Refused("a span per request from the load generator traces the generator, not the service; ld-tower exports metrics (LD_start_opentelemetry_exporter), and the service's own tracing shows its spans")),
    ("LD_stop_opentelemetry_tracing_exporter", Refused("a span per request from the load generator traces the generator, not the service; ld-tower exports metrics (LD_start_opentelemetry_exporter), and the service's own tracing shows its spans")),
    ("LD_start_datadog_apm_exporter", Refused("a span per request from the load generator traces the generator, not the service; ld-tower exports metrics (LD_start_statsd_sink works with the Datadog agent's DogStatsD)")),
    ("LD_stop_datadog_apm_exporter", Refused("a span per request from the load generator traces the generator, not the service; ld-tower exports metrics (LD_start_statsd_sink works with the Datadog agent's DogStatsD)")),
    ("LD_start_stub_server", Refused("an agent opens no listener for clients: run a stub service (WireMock, Prism from an OpenAPI file) beside it")),
    ("LD_stop_stub_server", Refused("an agent opens no listener for clients: run a stub service (WireMock, Prism from an OpenAPI file) beside it")),
    ("LD_mutate_string", Refused(SECURITY)),
    ("LD_mutate_json", Refused(SECURITY)),
    ("LD_expand_task_fuzz", Refused(SECURITY)),
    ("LD_run_owasp_checks", Refused(SECURITY)),
    ("LD_toxiproxy_create_proxy", Refused(CHAOS)),
    ("LD_toxiproxy_list_proxies", Refused(CHAOS)),
    ("LD_toxiproxy_add_toxic", Refused(CHAOS)),
    ("LD_toxiproxy_remove_toxic", Refused(CHAOS)),
    ("LD_toxiproxy_install_latency", Refused(CHAOS)),
    ("LD_toxiproxy_install_bandwidth", Refused(CHAOS)),
    ("LD_toxiproxy_reset_all", Refused(CHAOS)),
    ("LD_toxiproxy_remove_proxies", Refused(CHAOS)),
    ("LD_chaos_apply_manifest", Refused("it runs kubectl on the agent's machine with the agent's credentials: never from a remote-controlled agent; apply Chaos Mesh manifests with kubectl beside the test")),
    ("LD_chaos_delete_manifest", Refused("it runs kubectl on the agent's machine with the agent's credentials: never from a remote-controlled agent; apply Chaos Mesh manifests with kubectl beside the test")),
    ("LD_chaos_network_delay", Refused(CHAOS)),
    ("LD_build_root_cause_prompt", Refused(AI)),
    ("LD_render_prompt_text", Refused(AI)),
    ("LD_find_breaking_point", Supported),
    ("LD_calibrate_sla", Supported),
    ("LD_generate_excel_report", Refused("it writes every request record, and ld-tower keeps per-name histograms, not records; LD_generate_csv_report opens in any spreadsheet")),
    ("LD_generate_sarif_report", Refused("SARIF is for static-analysis findings in source files, which a load test has none of; LD_generate_junit_report is CI's format for failed checks")),
    ("LD_generate_cyclonedx_report", Refused("it lists the host Python's packages, which ld-tower has none of; ld-tower's own dependencies are in its Cargo.lock (cargo cyclonedx makes the SBOM)")),
    ("LD_generate_service_map", Refused("it guesses a call graph from the order of request records, and ld-tower keeps per-name histograms, not a record per request")),
    ("LD_generate_cost_report", Refused("out of scope: it multiplies a test's length by hourly prices the caller supplies; the JSON report has the test's length and users")),
    ("LD_pii_scrub", Refused("out of scope: a regex scrubber of arbitrary documents; ld-tower redacts secrets (tokens, Authorization, cookies) in its own logs, reports and history")),
    ("LD_pii_scrub_string", Refused("out of scope: a regex scrubber of arbitrary documents; ld-tower redacts secrets (tokens, Authorization, cookies) in its own logs, reports and history")),
    ("LD_build_user", Refused("fake test data is made per request by `${faker.*}` placeholders in tasks (names, emails, addresses...), not built ahead")),
    ("LD_build_user_pool", Refused("fake test data is made per request by `${faker.*}` placeholders in tasks (names, emails, addresses...), not built ahead")),
    ("LD_apply_db_fixture", Refused("it runs arbitrary SQL statements against any database URL a client names: never on a remote-controlled agent; seed the database from CI before the test")),
    ("LD_run_db_teardown", Refused("it runs arbitrary SQL statements against any database URL a client names: never on a remote-controlled agent; clean the database from CI after the test")),
    ("LD_index_catalog", Refused("out of scope: it indexes action files in directories by tags; keep action files in version control, and tag runs with LD_tag_run")),
    ("LD_search_catalog", Refused("out of scope: it indexes action files in directories by tags; keep action files in version control, and search tagged runs with LD_search_runs_by_tag")),
    ("LD_tag_run", Supported),
    ("LD_list_tags", Supported),
    ("LD_search_runs_by_tag", Supported),
    ("LD_append_audit_entry", Refused("ld-tower keeps its own audit log (`serve --audit-log`), which records every command with its principal; a client may not write entries into it")),
    ("LD_read_audit_log", Refused("the audit log (`serve --audit-log`) is read on the agent's machine by its operator, not over the socket by the clients it audits")),
    ("LD_issue_share_link", Refused("out of scope: reports are files; publish them with a web server or CI artifacts, which have their own access control")),
    ("LD_verify_share_link", Refused("out of scope: reports are files; publish them with a web server or CI artifacts, which have their own access control")),
    ("LD_canary_verdict", Supported),
    ("LD_cdp_discover_targets", Refused("it connects to a browser's remote-debugging port: record the session in the browser's devtools (Network, Save all as HAR) and use LD_har_to_action_json")),
    ("LD_cdp_capture_session", Refused("it connects to a browser's remote-debugging port: record the session in the browser's devtools (Network, Save all as HAR) and use LD_har_to_action_json")),
    ("LD_cdp_capture_to_har", Refused("it connects to a browser's remote-debugging port: record the session in the browser's devtools (Network, Save all as HAR) and use LD_har_to_action_json")),
    ("LD_craft_alg_none_token", Refused(SECURITY)),
    ("LD_craft_alg_confusion_token", Refused(SECURITY)),
    ("LD_craft_expired_token", Refused(SECURITY)),
    ("LD_craft_kid_traversal_token", Refused(SECURITY)),
    ("LD_craft_jwt_attack_pack", Refused(SECURITY)),
    ("LD_graphql_introspection_payload", Refused(SECURITY)),
    ("LD_graphql_depth_attack", Refused(SECURITY)),
    ("LD_graphql_alias_batching", Refused(SECURITY)),
    ("LD_graphql_attack_pack", Refused(SECURITY)),
    ("LD_ssrf_targets", Refused(SECURITY)),
    ("LD_render_ssrf_tasks", Refused(SECURITY)),
    ("LD_find_metadata_leak", Refused(SECURITY)),
    ("LD_smuggling_cl_te", Refused(SECURITY)),
    ("LD_smuggling_te_cl", Refused(SECURITY)),
    ("LD_smuggling_te_te", Refused(SECURITY)),
    ("LD_smuggling_attack_pack", Refused(SECURITY)),
    ("LD_probe_rate_limit", Refused("it sends bursts with urllib, outside the engine's target policy and limits; a test with `arrival_rate` and `thresholds` (or LD_find_breaking_point) finds the rate at which 429s start")),
];

/// The Python builtins LoadDensity's executor also runs as actions
/// (`je_action_core`'s `SAFE_BUILTINS`).
pub const PYTHON_BUILTINS: &[&str] = &[
    "abs", "all", "any", "ascii", "bin", "callable", "chr", "divmod", "format", "hash", "hex",
    "len", "max", "min", "oct", "ord", "pow", "print", "repr", "round", "sorted", "sum",
];

/// How ld-tower answers a LoadDensity name, or `None` if LoadDensity has
/// no action of that name.
pub fn answer(name: &str) -> Option<Answer> {
    if PYTHON_BUILTINS.contains(&name) {
        return Some(Refused(PYTHON));
    }
    LOADDENSITY_ACTIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, answer)| *answer)
}

/// Why ld-tower does not run `name`, if it is a LoadDensity action it
/// refuses.
pub fn refusal(name: &str) -> Option<&'static str> {
    match answer(name) {
        Some(Refused(why)) => Some(why),
        _ => None,
    }
}

/// The longest name a suggestion is looked for (the distance costs the
/// product of the lengths).
const MAX_SUGGESTED_NAME: usize = 100;

/// The name of `known` closest to `name`, when one is close enough to be a
/// typo of it (see [`crate::spec::closest`]).
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    if name.len() > MAX_SUGGESTED_NAME {
        return None;
    }
    crate::spec::closest(name, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loaddensity_name_once() {
        assert_eq!(LOADDENSITY_ACTIONS.len(), 149);
        let mut names: Vec<&str> = LOADDENSITY_ACTIONS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 149);
        assert_eq!(PYTHON_BUILTINS.len(), 22);
    }

    #[test]
    fn builtins_and_refusals_have_reasons() {
        assert_eq!(refusal("print"), Some(PYTHON));
        assert_eq!(refusal("LD_post_slack_summary"), Some(NOTIFIER));
        assert_eq!(refusal("LD_start_test"), None);
        assert_eq!(refusal("LD_nope"), None);
    }

    #[test]
    fn a_long_name_is_not_compared() {
        let long = format!("LD_start_test{}", "x".repeat(200));
        assert_eq!(closest(&long, &["LD_start_test"]), None);
        assert_eq!(
            closest("LD_strat_test", &["LD_start_test"]),
            Some("LD_start_test")
        );
    }
}
