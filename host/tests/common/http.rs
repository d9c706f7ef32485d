//! The server on a loopback port for API tests, and their calls to it.

use serde_json::Value;
use socialcrm::app::App;
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;

/// A running server; stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub root: String,
    pub ingest: Ingest,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The URL of an API path such as `/posts`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.root)
    }
}

/// Serves `db` with no analyzers.
pub async fn start(db: &Db) -> Server {
    let sbox = SecretBox::from_key(&[7; 32]).expect("a 32-byte key");
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    start_with(Ingest::new(db.clone(), sbox, runtime, vec![], IngestOptions::default())).await
}

pub async fn start_with(ingest: Ingest) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let root = format!("http://{}", listener.local_addr().expect("its address"));
    let app = socialcrm::server::router(App::new(ingest.clone()));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { root, ingest, task }
}

/// Status and JSON body (Null when there is none).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
