//! docs/event.schema.json accepts the documented event and rejects broken ones (the root
//! tests check every real event against it).

use privmon_tests::{check, checked_event};

const GOOD: &str = r#"{"time":"2026-11-28T18:24:26.158911384Z","kind":"capability","node":"n1",
"process":{"pid":1,"tid":1,"ppid":null,"comm":"trigger","exe":null,"uid":0,"euid":0,"args":null,
"cap_effective":{"added":["CAP_CHOWN"],"dropped":[],"mask":"0x1"},"ancestors":[{"pid":7,"comm":"sh","exe":"/bin/sh"}]},"container":null,"k8s":null,"cgroup":{"id":5,"path":"/kubepods"},
"capability":{"name":"CAP_SYS_ADMIN","number":21,"verdict":"denied","scope":"host","audit":null},
"syscall":{"name":"mount","number":165,"args":[0,1,2,3,4,18446744073709551615]}}"#;

#[test]
fn documented_event_is_valid() {
    let ev = checked_event(&GOOD.replace('\n', ""));
    assert_eq!(check(&ev)["verdict"], "denied");
}

#[test]
#[should_panic(expected = "event breaks docs/event.schema.json")]
fn unknown_verdict_is_rejected() {
    checked_event(&GOOD.replace('\n', "").replace("\"denied\"", "\"maybe\""));
}

#[test]
#[should_panic(expected = "event breaks docs/event.schema.json")]
fn missing_process_is_rejected() {
    let mut ev: serde_json::Value = serde_json::from_str(&GOOD.replace('\n', "")).unwrap();
    ev.as_object_mut().unwrap().remove("process");
    checked_event(&ev.to_string());
}

/// Every kind as the daemon writes it (monitor's golden files, from its typed events)
/// passes the schema, and an operation's line carries its checks, not a `capability`.
#[test]
fn every_golden_event_is_valid() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../monitor/tests/golden/events");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("golden events") {
        let path = entry.expect("golden entry").path();
        let text = std::fs::read_to_string(&path).expect("golden file");
        let ev = checked_event(text.trim());
        if ["syscall", "namespace", "credentials"].contains(&ev["kind"].as_str().unwrap_or("")) {
            assert!(ev.get("capability").is_none(), "{}: {ev:#}", path.display());
        }
        n += 1;
    }
    assert!(n >= 10, "golden events read: {n}");
}

#[test]
#[should_panic(expected = "event breaks docs/event.schema.json")]
fn a_full_id_on_an_act_is_rejected() {
    let mut ev: serde_json::Value = serde_json::from_str(&GOOD.replace('\n', "")).unwrap();
    ev["container"] = serde_json::json!({"id": "3f1c".repeat(16), "name": "api"});
    ev["cgroup"] = serde_json::json!({"id": 5});
    checked_event(&ev.to_string());
}
