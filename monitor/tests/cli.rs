//! The `privmon` command line refuses bad configuration before touching the kernel.

use std::process::Command;

fn privmon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_privmon"))
}

#[test]
fn bad_config_file_is_refused_with_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("privmon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("privmon.yaml");
    std::fs::write(&file, "hook: auto\nhok: tp_btf\n").unwrap();
    let out = privmon()
        .arg("run")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:2: key `hok`: unknown field `hok`", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn missing_config_file_is_refused() {
    let out = privmon()
        .args(["run", "--config", "/nonexistent/privmon.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/privmon.yaml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn bad_flag_value_is_refused_with_the_flag() {
    let out = privmon()
        .args(["run", "--ring-buffer-bytes", "5000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("key `--ring-buffer-bytes`"), "{stderr}");
    assert!(stderr.contains("power of two"), "{stderr}");
}

#[test]
fn unknown_hook_flag_is_refused() {
    let out = privmon().args(["run", "--hook", "magic"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic"));
}

#[test]
fn a_taken_listen_port_fails_the_start_before_the_probes_load() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = privmon().args(["run", "--listen", &addr]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("listening on {addr} (config key `listen`)")),
        "{stderr}"
    );
    assert!(!stderr.contains("privmon ready"), "{stderr}");
}

#[test]
fn a_listen_address_without_a_port_is_refused() {
    let out = privmon()
        .args(["run", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[test]
fn rules_check_lists_the_rules_or_names_the_error() {
    let dir = std::env::temp_dir().join(format!("privmon-cli-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "rules:\n  - id: untrusted_image\n    enabled: false\n  - id: my_rule\n    \
         description: d\n    severity: low\n    mitre: [T1610]\n    \
         condition: {field: kind, eq: container_start}\n    summary: \"{workload} started\"\n  \
         - id: no_modules\n    description: d\n    severity: high\n    \
         condition: {field: capability.name, eq: CAP_SYS_MODULE}\n    summary: s\n    \
         action: kill\n",
    )
    .unwrap();
    let out = privmon()
        .args(["rules", "check"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no {id} in\n{stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("my_rule")[1..],
        ["low", "on", "-", "T1610", good.to_str().unwrap()]
    );
    // The enforcement action column (docs/enforcement.md).
    assert_eq!(line("no_modules")[1..4], ["high", "on", "kill"]);
    assert_eq!(line("untrusted_image")[2], "off");
    assert_eq!(line("mount_in_container")[1], "high");

    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "rules:\n  - id: x\n    severity: urgent\n").unwrap();
    let out = privmon()
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3:15: rules[0].severity: unknown variant `urgent`",
            bad.display()
        )),
        "{stderr}"
    );
}

#[test]
fn rules_list_shows_the_built_in_set() {
    let out = privmon().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in [
        "privileged_container_started",
        "kernel_module_loaded",
        "setns_into_host_namespace",
        "open_by_handle_at",
    ] {
        assert!(stdout.contains(id), "{stdout}");
    }
    assert!(stdout.contains("builtin:default.yaml"), "{stdout}");
}
