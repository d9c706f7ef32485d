//! `socialcrm import`: the report a CRM admin reads, and the exit code.

use std::process::Command;

fn import(data_dir: &std::path::Path, what: &str, file: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["import", what])
        .arg(file)
        .env_remove("SOCIALCRM_DATABASE_URL")
        .output()
        .expect("socialcrm runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn reports_counts_and_rejected_lines() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("contacts.csv");
    std::fs::write(&csv, "id,name,email\nC1,Ann,ann@example.com\nC2,Bob,bob at example\n").unwrap();

    let (ok, out) = import(&dir.path().join("data"), "contacts", &csv);
    assert!(!ok, "a rejected row makes the exit code 1");
    assert!(
        out.contains("rows read: 2, created: 1, updated: 0, unchanged: 0, rejected: 1"),
        "{out}"
    );
    assert!(
        out.contains("line 3: `bob at example` is not an email address"),
        "{out}"
    );

    std::fs::write(&csv, "id,name,email\nC1,Ann,ann@example.com\n").unwrap();
    let (ok, out) = import(&dir.path().join("data"), "contacts", &csv);
    assert!(ok);
    assert!(
        out.contains("rows read: 1, created: 0, updated: 0, unchanged: 1, rejected: 0"),
        "{out}"
    );
    assert!(
        dir.path().join("data/socialcrm.db").exists(),
        "the embedded default is a SQLite file in the data dir"
    );
}

#[test]
fn a_missing_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["import", "transactions", "/nonexistent/orders.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open /nonexistent/orders.csv"));
}
