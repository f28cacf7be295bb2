use serde_json::json;

use super::*;

fn start(pod: &str, id: &str, caps: &[&str], privileged: bool) -> Value {
    json!({
        "kind": "container_start",
        "container": { "id": id, "name": "web", "image": "registry.example/web:1" },
        "k8s": { "namespace": "shop", "pod": pod, "container": "web" },
        "posture": {
            "privileged": privileged,
            "capabilities": { "effective": caps },
            "runs_as_root": true,
            "no_new_privs": false,
            "readonly_rootfs": false,
            "seccomp": if privileged { "disabled" } else { "filter" },
        },
    })
}

fn check(pod: &str, id: &str, cap: &str, syscall: &str, comm: &str) -> Value {
    json!({
        "kind": "capability",
        "container": { "id": id, "name": "web" },
        "k8s": { "namespace": "shop", "pod": pod, "container": "web" },
        "process": { "comm": comm },
        "capability": { "name": cap, "verdict": "allowed", "scope": "host" },
        "syscall": { "name": syscall },
    })
}

const POD_A: &str = "web-7d9f8b6c5-x2x4z";
const POD_B: &str = "web-7d9f8b6c5-b8b4k";

#[test]
fn pod_names_reduce_to_their_owner() {
    assert_eq!(pod_stem("web-7d9f8b6c5-x2x4z"), "web");
    assert_eq!(pod_stem("payments-api-5c6b8f9d7-qz2wp"), "payments-api");
    assert_eq!(pod_stem("node-exporter-x8x2k"), "node-exporter");
    assert_eq!(pod_stem("db-0"), "db");
    assert_eq!(pod_stem("backup-28345670-k2k9z"), "backup");
    assert_eq!(pod_stem("privmon-test-pod"), "privmon-test-pod");
    assert_eq!(pod_stem("static"), "static");
}

#[test]
fn replicas_add_up_and_only_real_use_counts() {
    let mut a = Advisor::new(3600, None);
    let all = [
        "CAP_CHOWN",
        "CAP_NET_RAW",
        "CAP_SYS_ADMIN",
        "CAP_SYS_PTRACE",
    ];
    a.observe(&start(POD_A, "a1", &all, false), 100);
    a.observe(&start(POD_B, "b1", &all, false), 101);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 110);
    // Probing checks, the runtime's own set-up, and checks in a user namespace are not use.
    a.observe(&check(POD_B, "b1", "CAP_SYS_ADMIN", "mmap", "web"), 111);
    a.observe(&check(POD_B, "b1", "CAP_SYS_PTRACE", "openat", "ps"), 111);
    a.observe(
        &check(POD_B, "b1", "CAP_SYS_ADMIN", "mount", "runc:[2:INIT]"),
        111,
    );
    let mut userns = check(POD_B, "b1", "CAP_SYS_ADMIN", "mount", "web");
    userns["capability"]["scope"] = "user_namespace".into();
    a.observe(&userns, 112);
    let mut denied = check(POD_B, "b1", "CAP_CHOWN", "chown", "web");
    denied["capability"]["verdict"] = "denied".into();
    a.observe(&denied, 112);

    let advice = a.advise(&Filter::default(), 120);
    assert_eq!(advice.len(), 1, "{advice:#?}");
    let adv = &advice[0];
    assert_eq!(adv.workload.owner, "web");
    assert_eq!(adv.instances, 2);
    assert_eq!(adv.observed_secs, 20);
    assert_eq!(adv.last_new_capability, Some(110));
    assert_eq!(
        adv.security_context,
        json!({
            "privileged": false,
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"], "add": ["NET_RAW"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        })
    );
    assert_eq!(
        adv.unused.as_deref(),
        Some(&["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"].map(String::from)[..])
    );
    assert_eq!(
        adv.docker_flags,
        [
            "--cap-drop=ALL",
            "--cap-add=NET_RAW",
            "--security-opt=no-new-privileges"
        ]
    );
    let yaml = adv.to_yaml();
    assert!(yaml.contains("# keep NET_RAW: used by socket"), "{yaml}");
    let parsed: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(parsed["securityContext"], adv.security_context, "{yaml}");
}

#[test]
fn a_restart_of_the_daemon_does_not_count_instances_twice() {
    let mut a = Advisor::new(3600, None);
    a.observe(&start(POD_A, "a1", &[], false), 1);
    a.observe(&start(POD_A, "a1", &[], false), 2);
    assert_eq!(a.advise(&Filter::default(), 2)[0].instances, 1);
}

#[test]
fn privilege_gain_keeps_escalation_allowed() {
    // The advice sets allowPrivilegeEscalation (to false) only without a privilege gain.
    let escalation_forbidden = |a: &Advisor| {
        a.advise(&Filter::default(), 2)[0]
            .security_context
            .get("allowPrivilegeEscalation")
            .is_some()
    };
    let mut a = Advisor::new(3600, None);
    a.observe(&start(POD_A, "a1", &[], true), 1);
    let mut cred = check(POD_A, "a1", "CAP_SETUID", "execve", "sudo");
    cred["kind"] = "credentials".into();
    // A set*id() call is no privilege gain at exec: it leaves the advice as it is.
    cred["cause"] = "setuid".into();
    a.observe(&cred, 2);
    assert!(escalation_forbidden(&a));
    // An exec that only dropped privileges (su-like) leaves it too.
    cred["cause"] = "exec".into();
    cred["credentials"] = json!({"old": {"uid": 0, "euid": 0, "gid": 0, "egid": 0},
                                 "new": {"uid": 1000, "euid": 1000, "gid": 1000, "egid": 1000}});
    a.observe(&cred, 2);
    assert!(escalation_forbidden(&a));
    // A set-user-id file: effective uid 0, real uid 1000.
    cred["credentials"]["new"]["euid"] = 0.into();
    a.observe(&cred, 2);
    let adv = &a.advise(&Filter::default(), 2)[0];
    assert!(
        adv.security_context
            .get("allowPrivilegeEscalation")
            .is_none()
    );
    assert!(adv.to_yaml().contains("runs privileged now"));
}

#[test]
fn use_outside_the_baseline_alerts_once_after_learning() {
    let mut a = Advisor::new(60, None);
    a.observe(&start(POD_A, "a1", &[], false), 0);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 10);
    // Still learning: a new capability joins what is learned.
    assert_eq!(
        a.observe(&check(POD_A, "a1", "CAP_CHOWN", "chown", "web"), 30),
        None
    );
    a.tick(61);
    assert_eq!(
        a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 70),
        None
    );
    let out = a.observe(&check(POD_A, "a1", "CAP_SYS_ADMIN", "mount", "sh"), 80);
    assert_eq!(
        out.map(|o| (o.capability, o.operation)),
        Some(("CAP_SYS_ADMIN".to_string(), Some("mount".to_string())))
    );
    assert_eq!(
        a.observe(&check(POD_A, "a1", "CAP_SYS_ADMIN", "mount", "sh"), 81),
        None
    );

    // A reset forgets and learns again.
    let filter = Filter {
        pod: Some(POD_B.to_string()),
        ..Filter::default()
    };
    assert_eq!(a.reset(&filter, 100), 1);
    assert!(matches!(
        a.advise(&filter, 100)[0].baseline,
        BaselineState::Learning { since: 100 }
    ));
    assert_eq!(
        a.observe(&check(POD_A, "a1", "CAP_SYS_ADMIN", "mount", "sh"), 101),
        None
    );
}

#[test]
fn state_survives_a_restart_and_a_corrupt_file_is_set_aside() {
    let dir = std::env::temp_dir().join(format!("privmon-advisor-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let (mut a, err) = Advisor::load(60, &dir, 0);
    assert_eq!(err, None);
    a.observe(&start(POD_A, "a1", &["CAP_NET_RAW"], false), 1);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 2);
    a.save().unwrap();
    let (b, err) = Advisor::load(60, &dir, 3);
    assert_eq!(err, None);
    assert_eq!(
        b.workloads().collect::<Vec<_>>(),
        a.workloads().collect::<Vec<_>>()
    );

    fs::write(dir.join(STATE_FILE), b"{\"version\": 1, \"workl").unwrap();
    let (c, err) = Advisor::load(60, &dir, 4);
    let err = err.expect("a corrupt file is reported");
    assert!(err.contains("not a valid state file"), "{err}");
    assert_eq!(c.workloads().count(), 0);
    assert!(dir.join(format!("{STATE_FILE}.corrupt-4")).exists());
    assert!(!dir.join(STATE_FILE).exists());

    fs::write(
        dir.join(STATE_FILE),
        b"{\"version\": 99, \"workloads\": []}",
    )
    .unwrap();
    let (_, err) = Advisor::load(60, &dir, 5);
    assert!(err.unwrap().contains("format version 99"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_number_of_workloads_is_bounded() {
    let mut a = Advisor::new(60, None);
    for i in 0..=MAX_WORKLOADS as u64 {
        let mut ev = start(&format!("app{i}"), &format!("c{i}"), &[], false);
        ev["k8s"]["pod"] = format!("app{i}").into();
        a.observe(&ev, i);
    }
    assert_eq!(a.workloads().count(), MAX_WORKLOADS);
    // The one seen least recently went.
    assert!(a.workloads().all(|w| w.id.owner != "app0"));
}

#[test]
fn the_kernels_audit_flag_decides_where_the_hook_has_it() {
    let mut a = Advisor::new(3600, None);
    a.observe(&start(POD_A, "a1", &[], false), 1);
    // fexit/kprobe: an audited CAP_SYS_ADMIN check in mmap is use (the heuristic alone
    // would call it a probe); a no-audit CAP_NET_ADMIN check in ioctl is not.
    let mut audited = check(POD_A, "a1", "CAP_SYS_ADMIN", "mmap", "web");
    audited["capability"]["audit"] = true.into();
    a.observe(&audited, 2);
    let mut noaudit = check(POD_A, "a1", "CAP_NET_ADMIN", "ioctl", "web");
    noaudit["capability"]["audit"] = false.into();
    a.observe(&noaudit, 3);
    let used: Vec<String> = a.advise(&Filter::default(), 3)[0]
        .used
        .keys()
        .cloned()
        .collect();
    assert_eq!(used, ["CAP_SYS_ADMIN"]);
}

#[test]
fn only_execs_that_raise_privileges_keep_privilege_escalation_allowed() {
    let change = |old: Value, new: Value| json!({"old": old, "new": new});
    let ids = |uid: u32, euid: u32, permitted: &[&str]| {
        json!({"uid": uid, "euid": euid, "gid": uid, "egid": uid,
               "capabilities": {"effective": permitted, "permitted": permitted}})
    };
    // A set-user-id-root file run by uid 1000.
    assert!(gained_at_exec(&change(
        ids(1000, 1000, &[]),
        ids(1000, 0, &["CAP_CHOWN"])
    )));
    // A file with capabilities: permitted grew, ids unchanged.
    assert!(gained_at_exec(&change(
        ids(1000, 1000, &[]),
        ids(1000, 1000, &["CAP_NET_RAW"])
    )));
    // A set-group-id file.
    let mut sgid = ids(1000, 1000, &[]);
    sgid["egid"] = 42.into();
    assert!(gained_at_exec(&change(Value::Null, sgid)));
    // Root's child dropping to uid 1000 at exec (su-like): a loss, not a gain.
    assert!(!gained_at_exec(&change(
        ids(0, 0, &["CAP_CHOWN"]),
        ids(1000, 1000, &[])
    )));
}

#[test]
fn nodes_exports_merge_into_one_workload_and_round_trip() {
    // Node 1 saw replica A use NET_RAW; node 2 saw replica B use CHOWN, and A again.
    let all = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"];
    let mut n1 = Advisor::new(60, None);
    n1.observe(&start(POD_A, "a1", &all, false), 100);
    n1.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 110);
    let mut n2 = Advisor::new(60, None);
    n2.observe(&start(POD_B, "b1", &all, false), 200);
    n2.observe(&start(POD_A, "a1", &all, false), 201);
    n2.observe(&check(POD_B, "b1", "CAP_CHOWN", "chown", "web"), 250);
    n2.observe(&check(POD_A, "a1", "CAP_NET_RAW", "sendto", "ping"), 260);
    let (e1, e2) = (n1.export("node-1", 300), n2.export("node-2", 300));
    // Round trip: what is written reads back the same.
    let text = serde_json::to_string(&e1).unwrap();
    let back = Export::parse(&text).unwrap();
    assert_eq!(back.workloads, e1.workloads);
    assert_eq!(back.node, "node-1");
    let merged = merge(&[
        e1,
        Export::parse(&serde_json::to_string(&e2).unwrap()).unwrap(),
    ]);
    assert_eq!(merged.len(), 1);
    let (w, observed) = &merged[0];
    assert_eq!(w.id.to_string(), "shop/web/web");
    // a1 was seen by both nodes: counted once.
    assert_eq!(w.instances, 2);
    assert_eq!(w.first_seen, 100);
    assert_eq!(w.last_seen, 260);
    assert_eq!(*observed, 10 + 60, "each node's span, summed");
    let raw = &w.used["CAP_NET_RAW"];
    assert_eq!(raw.first_seen, 110, "the earliest first use");
    assert_eq!(raw.checks, 2);
    assert_eq!(
        raw.operations
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["sendto", "socket"]
    );
    let advice = advise_merged(&merged, &Filter::default());
    assert_eq!(
        advice[0].security_context["capabilities"]["add"],
        json!(["CHOWN", "NET_RAW"])
    );
    assert_eq!(advice[0].observed_secs, 70);
}

#[test]
fn an_export_edited_cut_or_newer_is_refused_with_the_reason() {
    let mut a = Advisor::new(60, None);
    a.observe(&start(POD_A, "a1", &["CAP_NET_RAW"], false), 100);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 110);
    let text = serde_json::to_string(&a.export("n", 120)).unwrap();
    let edited = text.replace("\"socket\"", "\"mount\"");
    assert!(Export::parse(&edited).unwrap_err().contains("digest"));
    let cut = &text[..text.len() / 2];
    assert!(Export::parse(cut).unwrap_err().contains("not JSON"));
    let newer = text.replace("\"version\":1", "\"version\":2");
    assert!(Export::parse(&newer).unwrap_err().contains("newer"));
    assert!(
        Export::parse("{\"format\": \"other\"}")
            .unwrap_err()
            .contains("not a privmon-baseline")
    );
}

#[test]
fn an_export_from_a_privmon_with_fewer_or_more_workload_fields_still_reads() {
    let mut a = Advisor::new(60, None);
    a.observe(&start(POD_A, "a1", &["CAP_NET_RAW"], false), 100);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 110);
    let mut v = serde_json::to_value(a.export("n", 120)).unwrap();
    // An older privmon wrote no `image`; a newer one a field this one does not know.
    let w = v["workloads"][0].as_object_mut().unwrap();
    w.remove("image");
    w.remove("baseline_image");
    w.insert("from_the_future".into(), json!(1));
    v["digest"] = value_digest(&v["workloads"]).into();
    let e = Export::parse(&v.to_string()).unwrap();
    assert_eq!(e.workloads[0].image, None);
    assert!(e.workloads[0].used.contains_key("CAP_NET_RAW"));
}

#[test]
fn a_use_outside_the_baseline_after_a_new_image_says_so() {
    let mut a = Advisor::new(60, None);
    let with_image = |image: &str| {
        let mut s = start(POD_A, "a1", &["CAP_NET_RAW", "CAP_SYS_ADMIN"], false);
        s["container"]["image_id"] = image.into();
        s
    };
    a.observe(&with_image("registry.example/web@sha256:aaa"), 100);
    a.observe(&check(POD_A, "a1", "CAP_NET_RAW", "socket", "ping"), 110);
    a.tick(200);
    // Same image: a plain drift alert.
    let o = a
        .observe(&check(POD_A, "a1", "CAP_CHOWN", "chown", "web"), 210)
        .unwrap();
    assert_eq!(o.new_image, None);
    // A rollout: the next use outside the baseline names the new image.
    a.observe(&with_image("registry.example/web@sha256:bbb"), 300);
    let o = a
        .observe(&check(POD_A, "a1", "CAP_SYS_ADMIN", "mount", "web"), 310)
        .unwrap();
    assert_eq!(
        o.new_image.as_deref(),
        Some("registry.example/web@sha256:bbb")
    );
    // The new image learns a baseline of its own, the previous one its prior: nothing for
    // protect mode to act on meanwhile.
    let id = a.workloads.keys().next().unwrap().clone();
    assert_eq!(a.baseline(&id), None);
    a.tick(350);
    assert_eq!(
        a.baseline(&id),
        None,
        "still learning (60 s from the rollout)"
    );
    a.tick(361);
    let b: Vec<&str> = a
        .baseline(&id)
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(b, ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]);
    // Learned from the new image: a later use outside it is plain drift again.
    let o = a
        .observe(&check(POD_A, "a1", "CAP_NET_ADMIN", "ioctl", "web"), 400)
        .unwrap();
    assert_eq!(o.new_image, None);
    // The same image again is no rollout.
    a.observe(&with_image("registry.example/web@sha256:bbb"), 410);
    assert!(a.baseline(&id).is_some());
}
