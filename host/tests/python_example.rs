//! The Python example analyzer (plugins/examples/python-questions) packed,
//! installed and run in the host. Opt-in: `cargo xtask python-example` builds
//! it with componentize-py and runs this test with SOCIALCRM_PYTHON_EXAMPLE
//! set to the built plugin directory.

mod common;

use std::path::PathBuf;

use socialcrm::plugins::{Package, PluginKind, registry};
use socialcrm::runtime::types::AnalysisInput;
use socialcrm::runtime::types::PostKind;
use socialcrm::runtime::{Runtime, RuntimeOptions};

fn input(text: &str) -> AnalysisInput {
    AnalysisInput {
        text: text.into(),
        kind: PostKind::Mention,
        language: Some("en".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_analyzer_installs_and_runs() {
    let Some(dir) = std::env::var_os("SOCIALCRM_PYTHON_EXAMPLE").map(PathBuf::from) else {
        common::skipped("the Python example (run `cargo xtask python-example` to build and test it)");
        return;
    };
    let package = Package::from_dir(&dir).expect("the built example");
    // 18 MB of wasm: compiled once, then loaded from the artifact cache.
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeOptions::default()
    })
    .unwrap();
    let (package, runtime) = (&package, &runtime);
    common::on_each_db(move |db| async move {
        let installed = registry::install(&db, runtime, package, "test").await.unwrap();
        assert_eq!(installed.manifest.kind, PluginKind::Analyzer);
        let found = registry::find(&db, "python-questions").await.unwrap();
        let analyzer = runtime.load_analyzer(found.manifest.sandbox(), &found.wasm).unwrap();
        let inputs = [
            input("How do I reset my password?"),
            input("Love the new bikes"),
            input("the app is not working, I need help"),
        ];
        let out = tokio::task::block_in_place(|| analyzer.analyze(&inputs)).unwrap().value;
        let names: Vec<Vec<String>> = out
            .iter()
            .map(|a| a.intents.iter().map(|l| l.name.clone()).collect())
            .collect();
        assert_eq!(names, [vec!["question"], vec![], vec!["support-request"]]);
        assert_eq!(out[0].language.as_deref(), Some("en"));
    })
    .await;
}
