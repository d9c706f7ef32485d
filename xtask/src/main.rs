//! `cargo xtask`: the project's build, test, demo and benchmark entry points.
//! Installs what a fresh machine lacks (the wasm32-wasip2 target) before building.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build-plugins   build the first-party plugins and test fixtures for wasm32-wasip2
                  and assemble target/plugins/NAME/{plugin.toml,plugin.wasm}
  test            build-plugins and the Python plugins, then cargo fmt --check, clippy -D warnings,
                  and every test
  demo            build-plugins, then run `socialcrm demo` (SQLite, bundled plugins, a demo network)
  python-example  build the Python example analyzer with componentize-py (from PyPI, into a
                  virtual environment under target/) and test that it installs and runs
  bench           build-plugins, then the benchmarks (instantiation, sentiment wasm/native/VADER, mastodon parsing, end-to-end ingest, insights, the HTTP API, erasing a subject)
  fuzz [CASES]    build-plugins, then the fuzz targets (manifest parser, package reader, X and Meta
                  webhook handlers through the host, CSV import, API cursor decoder): CASES mutated
                  seeds of tests/fuzz/ each (default 2000); bounded, stable toolchain, not in `test`
  bench-against REV [ROUNDS]
                  the platform benchmark (instantiation, analyzer batches, a 40-post poll) of git
                  revision REV and of the working tree, interleaved round by round (default 5):
                  what a change costs, measured in one run (compare the medians)
  browser-test    build-plugins and socialcrm, then drive the web UI of `socialcrm demo` in headless
                  Chromium (tests/browser, playwright-core from npm; screenshots in target/browser)
  pds-test        build-plugins and socialcrm, then run the Bluesky plugin against the AT Protocol
                  reference PDS (tests/pds, @atproto/dev-env from npm; needs PostgreSQL and Redis)
";

/// Plugins shipped with socialcrm: (package, directory).
const BUNDLED: &[(&str, &str)] = &[
    ("sentiment", "plugins/sentiment"),
    ("intent", "plugins/intent"),
    ("churn", "plugins/churn"),
    ("mastodon", "plugins/mastodon"),
    ("bluesky", "plugins/bluesky"),
    ("reddit", "plugins/reddit"),
    ("x", "plugins/x"),
    ("meta", "plugins/meta"),
    ("youtube", "plugins/youtube"),
    ("threads", "plugins/threads"),
    ("whatsapp", "plugins/whatsapp"),
    ("shopify", "plugins/shopify"),
    ("stripe", "plugins/stripe"),
];
/// Test fixtures built with them.
const FIXTURES: &[&str] = &[
    "hostile-channel",
    "hostile-analyzer",
    "compat-channel-1-0",
    "compat-channel-1-1",
    "compat-analyzer-1-1",
    "recency-scorer",
    "urgency-analyzer",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins(),
        Some("test") => test(),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("bench-against") => bench_against(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("python-example") => python_example(),
        Some("browser-test") => browser_test(),
        Some("pds-test") => pds_test(),
        _ => {
            eprint!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where cargo builds: `CARGO_TARGET_DIR` when set (relative to the workspace),
/// else `target/`. Assembled plugins always go to `target/plugins`, where the
/// host looks.
fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(mut cmd: Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2")
        })
        .unwrap_or(false);
    if !installed {
        let mut add = Command::new("rustup");
        add.args(["target", "add", "wasm32-wasip2"]);
        run(add).context("installing the wasm32-wasip2 target (needs rustup)")?;
    }
    Ok(())
}

fn build_plugins() -> anyhow::Result<()> {
    ensure_wasm_target()?;
    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for package in BUNDLED.iter().map(|(p, _)| *p).chain(FIXTURES.iter().copied()) {
        build.args(["-p", package]);
    }
    run(build)?;
    let target = root().join("target");
    for &(package, dir) in BUNDLED {
        let out = target.join("plugins").join(package);
        std::fs::create_dir_all(&out)?;
        std::fs::copy(root().join(dir).join("plugin.toml"), out.join("plugin.toml"))?;
        let wasm = cargo_target_dir()
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        std::fs::copy(&wasm, out.join("plugin.wasm")).with_context(|| format!("copying {}", wasm.display()))?;
        // The recorded answers `socialcrm plugin test NAME` replays, as they are now.
        let recorded = root().join(dir).join("conformance");
        let copied = out.join("conformance");
        if copied.exists() {
            std::fs::remove_dir_all(&copied)?;
        }
        if recorded.is_dir() {
            std::fs::create_dir(&copied)?;
            for file in std::fs::read_dir(&recorded)? {
                let file = file?;
                std::fs::copy(file.path(), copied.join(file.file_name()))?;
            }
        }
    }
    eprintln!("xtask: bundled plugins are in {}", target.join("plugins").display());
    Ok(())
}

fn test() -> anyhow::Result<()> {
    build_plugins()?;
    let python = build_python_plugins()?;
    let tools = python_tools()?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt).context("formatting differs: run `cargo fmt --all`")?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run(clippy)?;
    // Tests append a line here for each part they skip (host/tests/common).
    let skips = root().join("target/test-skips.txt");
    let _ = std::fs::remove_file(&skips);
    let mut tests = cargo();
    tests
        .args(["test", "--workspace"])
        .env("SOCIALCRM_TEST_SKIPS", &skips)
        // The tests of the Python plugins run here; they skip only elsewhere.
        .env("SOCIALCRM_PYTHON_PLUGINS", &python)
        // The API contract test runs schemathesis from here.
        .env("SOCIALCRM_PYTHON_TOOLS", &tools);
    let result = run(tests);
    report_skips(&skips);
    result
}

/// What the tests skipped, counted, so a green run says what it did not check.
fn report_skips(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        *counts.entry(line).or_default() += 1;
    }
    if counts.is_empty() {
        eprintln!("xtask: nothing skipped");
    }
    for (what, n) in counts {
        eprintln!("xtask: SKIPPED {n}×: {what}");
    }
}

fn demo(args: &[String]) -> anyhow::Result<()> {
    build_plugins()?;
    let mut demo = cargo();
    demo.args(["run", "--release", "-p", "socialcrm", "--", "demo"])
        .args(args);
    run(demo)
}

/// The Python tools, pinned: componentize-py builds the Python plugins (their
/// bindings follow its code generator); schemathesis and openapi-spec-validator
/// check the API against its OpenAPI document (host/tests/contract.rs).
const PYTHON_TOOLS: &[&str] = &[
    "componentize-py==0.25.1",
    "schemathesis==4.32.5",
    "openapi-spec-validator==0.9.0",
];

/// Plugins written in Python: (name, directory, world). Built by `test`.
const PYTHON_PLUGINS: &[(&str, &str, &str)] = &[("discourse", "plugins/discourse", "channel")];

/// A virtual environment under target/ with [`PYTHON_TOOLS`] (installed from
/// PyPI on first use or when the pins change, then reused): its bin/ directory.
fn python_tools() -> anyhow::Result<PathBuf> {
    let venv = root().join("target/python-venv");
    let bin = venv.join("bin");
    let pins = venv.join("pinned.txt");
    let wanted = PYTHON_TOOLS.join("\n");
    if std::fs::read_to_string(&pins).ok().as_deref() != Some(wanted.as_str()) {
        let mut create = Command::new("python3");
        create.arg("-m").arg("venv").arg(&venv);
        run(create).context("creating a Python virtual environment (needs python3 with venv)")?;
        let mut install = Command::new(bin.join("pip"));
        install
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PYTHON_TOOLS);
        run(install).context("installing the Python tools from PyPI")?;
        std::fs::write(&pins, wanted)?;
    }
    Ok(bin)
}

/// The newest modification time of the files under `dir` (Python's caches aside).
fn newest(dir: &Path) -> std::io::Result<std::time::SystemTime> {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == "__pycache__" {
            continue;
        }
        let modified = if entry.file_type()?.is_dir() {
            newest(&entry.path())?
        } else {
            entry.metadata()?.modified()?
        };
        latest = latest.max(modified);
    }
    Ok(latest)
}

/// Builds each Python plugin into target/plugins/NAME (plugin.toml,
/// plugin.wasm, conformance/) unless it is newer than its sources and the
/// WIT; returns target/plugins.
fn build_python_plugins() -> anyhow::Result<PathBuf> {
    let tool = python_tools()?.join("componentize-py");
    let plugins = root().join("target/plugins");
    for &(name, dir, world) in PYTHON_PLUGINS {
        let src = root().join(dir);
        // The plugin's own unit tests, in plain CPython (no host needed).
        let mut unit = Command::new(tool.with_file_name("python"));
        unit.current_dir(&src).args(["-B", "-m", "unittest", "--quiet"]);
        run(unit).with_context(|| format!("the unit tests of {dir}"))?;
        let out = plugins.join(name);
        let wasm = out.join("plugin.wasm");
        let sources = newest(&src)?.max(newest(&root().join("wit/v1"))?);
        let built = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
        if built.is_none_or(|b| b < sources) {
            std::fs::create_dir_all(&out)?;
            let start = std::time::Instant::now();
            let mut build = Command::new(&tool);
            build
                .current_dir(&src)
                .arg("-d")
                .arg(root().join("wit/v1"))
                .args(["-w", world, "componentize", "app", "-o"])
                .arg(&wasm);
            run(build)?;
            let size = std::fs::metadata(&wasm)?.len();
            eprintln!(
                "xtask: {name}: componentized in {:.1} s, {:.1} MB",
                start.elapsed().as_secs_f64(),
                size as f64 / 1e6
            );
        }
        std::fs::copy(src.join("plugin.toml"), out.join("plugin.toml"))?;
        let copied = out.join("conformance");
        if copied.exists() {
            std::fs::remove_dir_all(&copied)?;
        }
        std::fs::create_dir(&copied)?;
        for file in std::fs::read_dir(src.join("conformance"))? {
            let file = file?;
            std::fs::copy(file.path(), copied.join(file.file_name()))?;
        }
    }
    Ok(plugins)
}

fn python_example() -> anyhow::Result<()> {
    let target = root().join("target");
    let tool = python_tools()?.join("componentize-py");
    let src = root().join("plugins/examples/python-questions");
    let out = target.join("plugins/python-questions");
    std::fs::create_dir_all(&out)?;
    let mut build = Command::new(&tool);
    build
        .current_dir(&src)
        .arg("-d")
        .arg(root().join("wit/v1"))
        .args(["-w", "analyzer", "componentize", "app", "-o"])
        .arg(out.join("plugin.wasm"));
    run(build)?;
    std::fs::copy(src.join("plugin.toml"), out.join("plugin.toml"))?;
    let mut test = cargo();
    test.env("SOCIALCRM_PYTHON_EXAMPLE", &out).args([
        "test",
        "-p",
        "socialcrm",
        "--test",
        "python_example",
        "--",
        "--nocapture",
    ]);
    run(test)
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    build_plugins()?;
    for name in ["platform", "ingest", "insights", "api", "privacy", "sources"] {
        let mut bench = cargo();
        // Traps capture backtraces when this is set, which slows them by ~40 µs each.
        bench.env_remove("RUST_BACKTRACE");
        bench
            .args(["bench", "-p", "socialcrm-tests", "--bench", name, "--"])
            .args(args);
        run(bench)?;
    }
    Ok(())
}

fn fuzz(args: &[String]) -> anyhow::Result<()> {
    build_plugins()?;
    let mut fuzz = cargo();
    fuzz.env("SOCIALCRM_FUZZ_CASES", args.first().map_or("2000", String::as_str))
        .env_remove("RUST_BACKTRACE")
        .args([
            "test",
            "--release",
            "-p",
            "socialcrm",
            "--lib",
            "fuzz::",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ]);
    run(fuzz)
}

fn bench_against(args: &[String]) -> anyhow::Result<()> {
    let Some(rev) = args.first() else {
        bail!("usage: cargo xtask bench-against REV [ROUNDS]");
    };
    let rounds: usize = match args.get(1) {
        Some(n) => n.parse().with_context(|| format!("ROUNDS `{n}` is not a number"))?,
        None => 5,
    };
    build_plugins()?;
    let target = root().join("target/bench-against");
    let base = target.join("base");
    let worktree = |args: &[&str]| {
        let mut git = Command::new("git");
        git.current_dir(root()).arg("worktree").args(args);
        git
    };
    if base.exists() {
        run(worktree(&["remove", "--force", &base.display().to_string()]))?;
    }
    run(worktree(&["add", "--detach", &base.display().to_string(), rev]))?;
    let theirs = platform_bench(&base, &target)?;
    let ours = platform_bench(&root(), &target)?;
    for round in 1..=rounds {
        for (name, bench) in [(rev.as_str(), &theirs), ("working tree", &ours)] {
            println!("== {name}, round {round} of {rounds}");
            let mut cmd = Command::new(bench);
            // Traps capture backtraces when this is set, which slows them by ~40 µs each.
            cmd.env_remove("RUST_BACKTRACE").env("CARGO_TARGET_DIR", &target).args([
                "instantiate",
                "sentiment",
                "mastodon",
            ]);
            run(cmd)?;
        }
    }
    run(worktree(&["remove", "--force", &base.display().to_string()]))
}

/// Builds the platform benchmark of the workspace at `dir` into `target`
/// (dependencies are shared between the two builds) and returns its path.
fn platform_bench(dir: &Path, target: &Path) -> anyhow::Result<PathBuf> {
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.current_dir(dir).env("CARGO_TARGET_DIR", target).args([
        "bench",
        "-p",
        "socialcrm-tests",
        "--bench",
        "platform",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    eprintln!("xtask: building the platform benchmark of {}", dir.display());
    let output = build.output().context("running cargo bench --no-run")?;
    if !output.status.success() {
        bail!(
            "building the benchmark of {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "platform")
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no platform benchmark in {}", dir.display()))
}

/// Debian's Chromium: playwright-core drives it, so no browser is downloaded.
const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_test() -> anyhow::Result<()> {
    let chromium = std::env::var("SOCIALCRM_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    if !Path::new(&chromium).exists() {
        bail!("no Chromium at {chromium}: install it with `apt-get install -y chromium` (or set SOCIALCRM_CHROMIUM)");
    }
    build_plugins()?;
    let mut build = cargo();
    build.args(["build", "-p", "socialcrm"]);
    run(build)?;
    // playwright-core, and the OpenID provider the single sign-on step signs in with.
    for dir in ["tests/browser", "tests/oidc"] {
        let dir = root().join(dir);
        if !dir.join("node_modules").exists() {
            let mut install = Command::new("npm");
            install.current_dir(&dir).args(["ci", "--no-audit", "--no-fund"]);
            run(install).context("installing the browser test's npm packages (needs Node.js 20 or later with npm)")?;
        }
    }
    let dir = root().join("tests/browser");
    let mut test = Command::new("node");
    test.current_dir(&dir)
        .arg("ui.test.mjs")
        .env("SOCIALCRM_BIN", root().join("target/debug/socialcrm"))
        .env("SOCIALCRM_CHROMIUM", &chromium);
    run(test)
}

/// Opt-in (not in `test`): the Bluesky plugin against the reference PDS, PLC
/// and AppView of @atproto/dev-env (~25 s once installed). Postgres and Redis
/// come from DB_POSTGRES_URL / REDIS_HOST (defaults: local, trust auth).
fn pds_test() -> anyhow::Result<()> {
    build_plugins()?;
    let mut build = cargo();
    build.args(["build", "-p", "socialcrm"]);
    run(build)?;
    let dir = root().join("tests/pds");
    if !dir.join("node_modules").exists() {
        let mut install = Command::new("npm");
        install.current_dir(&dir).args(["ci", "--no-audit", "--no-fund"]);
        run(install).context("installing @atproto/dev-env (needs Node.js 20 or later with npm)")?;
    }
    let mut test = Command::new("node");
    test.current_dir(&dir)
        .args(["--require", "./node20-shim.cjs", "pds-test.mjs"])
        .env("SOCIALCRM_BIN", root().join("target/debug/socialcrm"));
    run(test)
}
