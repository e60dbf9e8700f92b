use serde_json::json;

use super::*;

#[test]
fn names_that_carry_credentials() {
    for name in [
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "X-Api-Key",
        "x-auth-token",
        "api_key",
        "apiKey",
        "client_secret",
        "PASSWORD",
        "session_id",
        "access_token",
    ] {
        assert!(is_sensitive(name), "{name}");
    }
    for name in ["accept", "content-type", "page", "q", "key", "user"] {
        assert!(!is_sensitive(name), "{name}");
    }
}

#[test]
fn url_userinfo_is_masked() {
    assert_eq!(
        text("cannot connect to https://alice:hunter2@example.test/path?x=1"),
        "cannot connect to https://alice:***@example.test/path?x=1"
    );
    assert_eq!(
        text("\"redis://:pw-0123@127.0.0.1:6379/0\" refused"),
        "\"redis://:***@127.0.0.1:6379/0\" refused"
    );
    assert_eq!(
        text("https://ghp_token@example.test/"),
        "https://***@example.test/"
    );
    // Already masked, or no userinfo: as it was, borrowed.
    assert!(matches!(
        text("https://alice:***@example.test/ and http://h/p@x"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn sensitive_pairs_headers_and_schemes_are_masked() {
    assert_eq!(
        text("GET /items?page=2&api_key=abc123&q=x"),
        "GET /items?page=2&api_key=***&q=x"
    );
    assert_eq!(
        text("cookie sent: session=s3cr3t; theme=dark"),
        "cookie sent: session=***; theme=dark"
    );
    assert_eq!(
        text("Authorization: Bearer abc.def\nnext"),
        "Authorization: ***\nnext"
    );
    assert_eq!(text("got \"Bearer abc.def\""), "got \"Bearer ***\"");
    assert_eq!(text("basic dXNlcjpwdw== refused"), "basic *** refused");
    assert!(matches!(
        text("status 500 for /items?page=2"),
        Cow::Borrowed(_)
    ));
}

#[test]
fn known_values_are_masked_as_written_quoted_and_encoded() {
    let mut redactor = Redactor::default();
    redactor.add("Bearer tok-\u{1}-0123456789");
    redactor.add("ab");
    assert_eq!(
        redactor.text("value \"tok-\\u{1}-0123456789\" is bad; raw tok-\u{1}-0123456789"),
        "value \"***\" is bad; raw ***"
    );
    redactor.add("p@ss word/0123");
    assert_eq!(
        redactor.text("sent p%40ss+word%2F0123 and p%40ss%20word%2F0123"),
        "sent *** and ***"
    );
    // Too short to mask by value.
    assert_eq!(redactor.text("ab"), "ab");
    assert!(!format!("{redactor:?}").contains("tok-"));
}

#[test]
fn a_tests_credentials_are_collected() -> Result<(), Box<dyn std::error::Error>> {
    let tasks = json!([{
        "url": "https://alice:pw-in-url-42@h.test/x?api_key=key-in-query-42&page=1",
        "headers": {"Authorization": "Bearer ${var.token}", "Accept": "text/plain"},
        "cookies": {"sid": "cookie-value-42"},
        "auth": ["alice", "basic-pw-42"],
        "more": {"auth": {"type": "bearer", "token": "bearer-token-42"}},
        "json": {"password": 123456789}
    }]);
    let mut redactor = Redactor::default();
    redactor.collect(&tasks, &|text| {
        text.replace("${var.token}", "token-from-var-42")
    });
    let message = "pw-in-url-42 key-in-query-42 token-from-var-42 cookie-value-42 basic-pw-42 123456789 bearer-token-42 text/plain alice bearer";
    assert_eq!(
        redactor.text(message),
        "*** *** *** *** *** *** *** text/plain alice bearer"
    );
    let parameters = redactor.json(&json!({"user_detail": {
        "host": "https://alice:pw-in-url-42@h.test",
        "api_token": "zzz"
    }}));
    assert_eq!(
        parameters,
        json!({"user_detail": {"host": "https://alice:***@h.test", "api_token": "***"}})
    );
    Ok(())
}

#[test]
fn a_credentials_value_is_not_quoted() {
    assert_eq!(quoted("accept", "text/\u{1}"), "\"text/\\u{1}\"");
    assert_eq!(quoted("Authorization", "Bearer x\u{1}"), MASK);
    assert_eq!(quoted("x-session-id", "abc"), MASK);
}
