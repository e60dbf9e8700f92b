use std::net::SocketAddr;
use std::time::Duration;

use super::*;

fn entries(list: &[&str]) -> Result<Vec<Entry>, String> {
    list.iter().map(|e| e.parse()).collect()
}

fn at(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|e| format!("{text}: {e}"))
}

fn served(allow: &[&str], deny: &[&str]) -> Result<TargetPolicy, String> {
    Ok(TargetPolicy::served(entries(allow)?, entries(deny)?))
}

#[test]
fn entries_parse_and_bad_ones_are_refused() {
    for good in [
        "10.0.0.0/8",
        "10.0.0.0/8:443",
        "127.0.0.1",
        "127.0.0.1:8080",
        "::1",
        "fd00::/8",
        "[::1]:8080",
        "[fd00::/8]",
        "api.example.com",
        "API.Example.com.:443",
        "*.example.com",
        "*.example.com:443",
        ":8080",
        "localhost",
    ] {
        assert!(good.parse::<Entry>().is_ok(), "{good} refused");
    }
    for bad in [
        "",
        ":",
        ":0",
        ":99999",
        "10.0.0.0/33",
        "::1:8080:x",
        "[::1",
        "[127.0.0.1]:80",
        "*.",
        "a..b",
        "exa mple.com",
        "http://example.com",
        "*.*.example.com",
    ] {
        assert!(bad.parse::<Entry>().is_err(), "{bad} accepted");
    }
}

#[test]
fn metadata_and_link_local_are_denied_by_default_loopback_is_not() -> Result<(), String> {
    let policy = served(&[], &[])?;
    let refused = policy
        .check(&["169.254.169.254"], at("169.254.169.254:80")?)
        .err()
        .ok_or("169.254.169.254 allowed")?;
    assert_eq!(
        refused.to_string(),
        "target 169.254.169.254:80 is denied by the agent's policy (link-local and cloud metadata addresses are denied unless --allow-target names them)"
    );
    for denied in [
        "[fe80::1]:80",
        "[fd00:ec2::254]:80",
        "[fd20:ce::254]:80",
        "100.100.100.200:80",
        "0.0.0.0:80",
        "[::]:80",
        "169.254.170.2:80",
    ] {
        assert!(policy.check(&[], at(denied)?).is_err(), "{denied} allowed");
    }
    for allowed in ["127.0.0.1:80", "[::1]:80", "10.1.2.3:443", "192.168.1.1:80"] {
        assert!(policy.check(&[], at(allowed)?).is_ok(), "{allowed} denied");
    }
    assert!(TargetPolicy::open()
        .check(&[], at("169.254.169.254:80")?)
        .is_ok());
    Ok(())
}

#[test]
fn v4_mapped_v6_addresses_are_judged_as_ipv4() -> Result<(), String> {
    let policy = served(&[], &["127.0.0.1:9000"])?;
    assert!(policy
        .check(&[], at("[::ffff:169.254.169.254]:80")?)
        .is_err());
    assert!(policy.check(&[], at("[::ffff:127.0.0.1]:9000")?).is_err());
    assert!(policy.check(&[], at("[::ffff:127.0.0.1]:9001")?).is_ok());
    // A rule written as a mapped address is its IPv4 address.
    let mapped = served(&[], &["::ffff:10.0.0.0/104"])?;
    assert!(mapped.check(&[], at("10.9.9.9:80")?).is_err());
    Ok(())
}

#[test]
fn an_explicit_allow_lifts_the_built_in_deny_a_name_does_not() -> Result<(), String> {
    let policy = served(&["169.254.169.254"], &[])?;
    assert!(policy.check(&[], at("169.254.169.254:80")?).is_ok());
    // Other addresses are now outside the allow list.
    let refused = policy
        .check(&["localhost"], at("127.0.0.1:80")?)
        .err()
        .ok_or("127.0.0.1 allowed")?;
    assert_eq!(
        refused.to_string(),
        "target localhost:80 (127.0.0.1) is denied by the agent's policy (it is not in --allow-target)"
    );
    let by_name = served(&["metadata.google.internal"], &[])?;
    assert!(by_name
        .check(&["metadata.google.internal"], at("169.254.169.254:80")?)
        .is_err());
    Ok(())
}

#[test]
fn deny_wins_over_allow_and_ports_narrow_entries() -> Result<(), String> {
    let policy = served(&["127.0.0.0/8"], &["127.0.0.1:9000"])?;
    let refused = policy
        .check(&["127.0.0.1"], at("127.0.0.1:9000")?)
        .err()
        .ok_or("denied port allowed")?;
    assert_eq!(refused.reason, Reason::Denied("127.0.0.1:9000".into()));
    assert_eq!(
        refused.to_string(),
        "target 127.0.0.1:9000 is denied by the agent's policy (--deny-target 127.0.0.1:9000)"
    );
    assert!(policy.check(&[], at("127.0.0.1:9001")?).is_ok());
    assert!(policy.check(&[], at("127.0.0.2:9000")?).is_ok());
    let ports = served(&[":443"], &[])?;
    assert!(ports.check(&[], at("10.0.0.1:443")?).is_ok());
    assert!(ports.check(&[], at("10.0.0.1:80")?).is_err());
    let v6 = served(&[], &["[fd00::/8]:80"])?;
    assert!(v6.check(&[], at("[fd12::1]:80")?).is_err());
    assert!(v6.check(&[], at("[fd12::1]:81")?).is_ok());
    Ok(())
}

#[test]
fn names_match_exactly_or_below_a_domain() -> Result<(), String> {
    let policy = served(&[], &["internal.example.com", "*.corp.example:8443"])?;
    let address = at("10.0.0.5:8443")?;
    assert!(policy.check(&["Internal.Example.COM."], address).is_err());
    assert!(policy.check(&["a.internal.example.com"], address).is_ok());
    assert!(policy.check(&["db.corp.example"], address).is_err());
    assert!(policy.check(&["a.b.corp.example"], address).is_err());
    assert!(policy.check(&["corp.example"], address).is_ok());
    assert!(policy
        .check(&["db.corp.example"], at("10.0.0.5:80")?)
        .is_ok());
    // Either name of a connection counts: the URL's and --connect-to's.
    assert!(policy
        .check(&["public.example.org", "internal.example.com"], address)
        .is_err());
    let refused = policy
        .check(&["internal.example.com"], at("[fd00::1]:443")?)
        .err()
        .ok_or("allowed")?;
    assert_eq!(
        refused.target,
        "internal.example.com:443 (fd00::1)".to_owned()
    );
    Ok(())
}

#[test]
fn caps_name_their_flags() {
    let caps = Caps {
        max_users: Some(1000),
        max_rate: Some(50.0),
        max_test_time: Some(Duration::from_secs(60)),
        max_csv_bytes: Some(10),
    };
    assert_eq!(
        caps.check_users("user_count", 5000),
        Err("user_count 5000 is over the agent's limit of 1000 (--max-users)".into())
    );
    assert_eq!(caps.check_users("user_count", 1000), Ok(()));
    assert_eq!(
        caps.check_rate(51.0),
        Err("arrival_rate 51 is over the agent's limit of 50 per second (--max-rate)".into())
    );
    assert_eq!(
        caps.test_time(Some(Duration::from_secs(61))),
        Err("test_time 61s is over the agent's limit of 60s (--max-test-time)".into())
    );
    assert_eq!(caps.test_time(None), Ok(Some(Duration::from_secs(60))));
    assert_eq!(
        caps.test_time(Some(Duration::from_secs(5))),
        Ok(Some(Duration::from_secs(5)))
    );
    assert_eq!(
        caps.check_csv(11),
        Err("its size, 11 bytes, is over the agent's limit of 10 bytes (--max-csv-bytes)".into())
    );
    assert_eq!(caps.check_csv(10), Ok(()));
    assert_eq!(Caps::default().test_time(None), Ok(None));
    assert_eq!(
        Caps::default().check_users("user_count", usize::MAX),
        Ok(())
    );
}

#[test]
fn the_lower_of_a_format_s_bound_and_max_file_bytes_binds() {
    assert_eq!(file_limit(None, 100), (100, false));
    assert_eq!(file_limit(Some(200), 100), (100, false));
    assert_eq!(file_limit(Some(50), 100), (50, true));
    assert_eq!(file_limit(Some(100), 100), (100, true));
    assert_eq!(
        file_over("a.proto", 50),
        "a.proto is over the agent's limit of 50 bytes (--max-file-bytes)"
    );
}

#[test]
fn nat64_and_ipv4_compatible_addresses_are_judged_as_their_ipv4_too() -> Result<(), String> {
    let policy = served(&[], &[])?;
    for hidden in [
        "[64:ff9b::a9fe:a9fe]:80",
        "[::169.254.169.254]:80",
        "[64:ff9b::6464:64c8]:80",
    ] {
        assert!(
            policy.check(&[], at(hidden)?).is_err(),
            "{hidden} let through"
        );
    }
    for fine in [
        "[64:ff9b::808:808]:443",
        "[::1]:80",
        "[2001:db8::a9fe:a9fe]:80",
    ] {
        assert_eq!(policy.check(&[], at(fine)?), Ok(()), "{fine} refused");
    }
    // An explicit allow of the IPv4 address lifts it through NAT64 too,
    // and a deny of it holds there.
    let lifted = served(&["169.254.169.254"], &[])?;
    assert_eq!(lifted.check(&[], at("[64:ff9b::a9fe:a9fe]:80")?), Ok(()));
    let denied = served(&[], &["8.8.8.8"])?;
    assert!(denied.check(&[], at("[64:ff9b::808:808]:53")?).is_err());
    Ok(())
}
