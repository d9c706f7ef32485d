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

fn socialcrm(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SOCIALCRM_DATABASE_URL")
        .output()
        .expect("socialcrm runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn presets_dry_runs_and_saved_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/imports");
    let customers = format!("{samples}/shopify-customers.csv");
    let orders = format!("{samples}/shopify-orders.csv");

    let (ok, out) = socialcrm(&data, &["import", "contacts", &customers, "--dry-run"]);
    assert!(!ok, "a rejected row fails a dry run too: {out}");
    assert!(out.contains("read as UTF-8 with BOM, `,` between fields"), "{out}");
    assert!(
        out.contains("mapping: shopify (its columns fit the file best)"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(
        out.contains("rows read: 4, would be created: 3, would be updated: 0, unchanged: 0, rejected: 1"),
        "{out}"
    );
    assert!(
        out.contains("line 5: `raj at example.com` is not an email address"),
        "{out}"
    );

    let (_, out) = socialcrm(&data, &["import", "contacts", &customers]);
    assert!(out.contains("created: 3"), "{out}");
    let (_, out) = socialcrm(&data, &["import", "transactions", &orders, "--mapping", "shopify"]);
    assert!(out.contains("rows read: 5, created: 5"), "{out}");
    assert!(
        out.contains("line 6: no contact with email `guest.buyer@example.com`"),
        "{out}"
    );

    let csv = dir.path().join("legacy.csv");
    std::fs::write(&csv, "Kundennr;Name\nK1;Jörg Maier\n").unwrap();
    let (ok, out) = socialcrm(
        &data,
        &[
            "import",
            "mappings",
            "save",
            "legacy",
            "contacts",
            "--map",
            "Kundennr=id",
            "--map",
            "Name=name",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = socialcrm(&data, &["import", "mappings", "list"]);
    assert!(
        ok && out.contains("legacy\tcontacts\t") && out.contains("hubspot\tcontacts (preset)"),
        "{out}"
    );
    let (ok, out) = socialcrm(
        &data,
        &["import", "contacts", csv.to_str().unwrap(), "--mapping", "legacy"],
    );
    assert!(ok && out.contains("created: 1"), "{out}");
    let (ok, out) = socialcrm(
        &data,
        &["import", "contacts", csv.to_str().unwrap(), "--map", "Nummer=id"],
    );
    assert!(!ok);
    assert!(
        out.contains(
            "the mapping reads `Nummer` for `id`, but the CSV has no such column (its columns: Kundennr, Name)"
        ),
        "{out}"
    );
    let (ok, out) = socialcrm(&data, &["import", "mappings", "delete", "legacy"]);
    assert!(ok, "{out}");
    let (ok, out) = socialcrm(&data, &["import", "mappings", "delete", "legacy"]);
    assert!(
        !ok && out.contains("no saved mapping or preset is named `legacy`"),
        "{out}"
    );
}
