//! Rebuilds the host when a migration is added: `sqlx::migrate!` embeds the
//! migrations folders at compile time, and cargo watches only what it is told.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
