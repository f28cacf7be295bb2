//! Fuzzes the rule parser: any text, alone and on top of the built-in rules, must give a
//! rule set or an error with a location, never a panic; a set that loads is evaluated on
//! an event.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;

use privmon::rules::{Engine, RuleSet, Source};

const EVENT: &str = r#"{"time":"2026-11-28T20:00:00Z","kind":"syscall","node":"n1",
 "process":{"pid":42,"comm":"evil","exe":"/usr/bin/evil","euid":0,"uid":0,"args":["a"]},
 "container":{"id":"abababababababababababababababababababababababababababababababab",
   "runtime":"containerd","name":null,"image":"registry.example/app:1"},
 "k8s":{"namespace":"payments","pod":"api-7d9","pod_uid":null,"container":"api"},
 "cgroup":{"id":7,"path":"/kubepods/x"},"group":"mounts",
 "capability":{"name":"CAP_SYS_ADMIN","number":21,"verdict":"allowed","scope":"host"},
 "syscall":{"name":"mount","number":165,"result":null,
   "args":{"source":"/dev/vda1","target":"/mnt","fstype":"ext4","flags":0}}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = || Source {
        name: "fuzz.yaml".to_string(),
        text: text.to_string(),
    };
    let event: serde_json::Value = serde_json::from_str(EVENT).expect("valid event");
    for sources in [vec![file()], vec![Source::builtin(), file()]] {
        match RuleSet::from_sources(&sources) {
            Ok(set) => {
                let mut engine = Engine::new(set);
                let now = Instant::now();
                for alert in engine.evaluate(&event, Some(&event.to_string()), now) {
                    assert!(!alert.rule.is_empty());
                }
                let _ = engine.flush(now);
            }
            Err(e) => {
                // Every error names its file.
                assert!(e.to_string().starts_with(&e.source_name));
            }
        }
    }
});
