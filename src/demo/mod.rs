//! `ld-tower demo`: a small HTTP target on loopback, a short test against
//! it through the same engine and actions as everything else, the summary,
//! and the HTML, JSON and JUnit reports in a folder.

mod target;

pub(crate) use target::Target;

use serde_json::{json, Value};

/// The demo's action list against `url`, writing its reports under `dir`.
pub(crate) fn actions(url: &str, dir: &str, users: u64, seconds: f64) -> Value {
    json!({"load_density": [
        ["LD_clear_records", {}],
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user", "host": url},
            "user_count": users,
            "spawn_rate": users.max(1) * 2,
            "test_time": seconds,
            "wait_time": [0.02, 0.1],
            "tasks": {"mode": "sequence", "tasks": [
                {"method": "post", "request_url": "/api/login", "name": "login",
                 "json": {"user": "user-${randint(1,100)}"},
                 "extract": [{"var": "token", "from": "json_path", "path": "data.token"}]},
                {"method": "get", "request_url": "/api/profile", "name": "profile",
                 "auth": {"type": "bearer", "token": "${var.token}"},
                 "assertions": [{"type": "json_path", "path": "user", "value": "demo"}]},
                {"method": "get", "request_url": "/api/items", "name": "items",
                 "assertions": [{"type": "status_code", "value": 200}, {"type": "contains", "value": "tower"}]},
                {"method": "get", "request_url": "/api/search", "name": "search", "params": {"q": "layer"}},
                {"method": "get", "request_url": "/api/flaky", "name": "flaky"}
            ]},
            "thresholds": {"p95_ms": 250, "failure_rate": 0.05, "per_name": {"items": {"p99_ms": 50}}}
        }],
        ["LD_summary", {}],
        ["LD_generate_html_report", {"html_name": format!("{dir}/report")}],
        ["LD_generate_json_report", {"json_file_name": format!("{dir}/report")}],
        ["LD_generate_junit_report", {"report_name": format!("{dir}/junit")}]
    ]})
}
