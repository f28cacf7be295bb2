//! The daemon's HTTP surface: `/metrics`, `/healthz`, `/readyz`, `/events`, the live
//! stream (JSON lines, the recent history first, then events as they happen), and
//! `/advice` (the least-privilege advisor).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Context as _;
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tracing::{error, info};

use crate::{
    advisor::{self, Advisor},
    config::Config,
    outputs::enforcement::Control,
    outputs::metrics::Metrics,
    outputs::sinks::{
        Record,
        stream::{self, Hub},
    },
};

/// What the handlers share.
pub struct Api {
    /// Enforcement's state and run-time switch.
    enforcement: Arc<Control>,
    metrics: Arc<Metrics>,
    hub: Arc<Hub>,
    advisor: Arc<Mutex<Advisor>>,
    token: Option<String>,
    /// The stream is served on loopback, or anywhere with a token.
    stream_open: bool,
    /// This node's name, in baseline exports.
    node: String,
}

impl Api {
    pub fn new(
        config: &Config,
        enforcement: Arc<Control>,
        metrics: Arc<Metrics>,
        hub: Arc<Hub>,
        advisor: Arc<Mutex<Advisor>>,
        node: &str,
    ) -> anyhow::Result<Api> {
        let token = match (&config.api_token, &config.api_token_file) {
            (Some(t), _) => Some(t.trim().to_string()),
            (None, Some(f)) => {
                let t = std::fs::read_to_string(f)
                    .with_context(|| format!("reading api_token_file {}", f.display()))?;
                let t = t.trim().to_string();
                anyhow::ensure!(
                    t.len() >= 16,
                    "api_token_file {}: the token must be at least 16 characters",
                    f.display()
                );
                Some(t)
            }
            (None, None) => None,
        };
        let stream_open = token.is_some() || config.listen.ip().is_loopback();
        if !stream_open {
            tracing::warn!(
                listen = %config.listen,
                "the live stream (/events) and the advice (/advice) are off: serving them \
                 beyond loopback needs api_token"
            );
        }
        Ok(Api {
            enforcement,
            metrics,
            hub,
            advisor,
            token,
            stream_open,
            node: node.to_string(),
        })
    }
}

/// Binds the address now, so that a taken port fails the start rather than a later scrape.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (config key `listen`)"))?;
    if let Ok(local) = listener.local_addr() {
        info!(address = %local, "serving /metrics, /healthz, /readyz");
    }
    Ok(listener)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .route("/events", get(events_handler))
        .route("/advice", get(advice_handler))
        .route("/advice/reset", post(reset_handler))
        .route("/baseline", get(baseline_handler))
        .route("/enforcement", get(enforcement_handler))
        .route("/enforcement/pause", post(pause_handler))
        .route("/enforcement/resume", post(resume_handler))
        .with_state(api);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        error!(error = %e, "HTTP server stopped");
    }
}

async fn metrics_handler(State(api): State<Arc<Api>>) -> Response {
    let metrics = api.metrics.clone();
    // Reading the kernel maps is a few system calls per entry: off the async thread.
    match tokio::task::spawn_blocking(move || metrics.render()).await {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn ready_handler(State(api): State<Arc<Api>>) -> Response {
    let why = api.metrics.health.not_ready();
    if why.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", why.join("; ")),
        )
            .into_response()
    }
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn line(r: &Record) -> Bytes {
    let mut b = Vec::with_capacity(r.json.len() + 1);
    b.extend_from_slice(r.json.as_bytes());
    b.push(b'\n');
    Bytes::from(b)
}

/// The refusal for the stream and the advice: off beyond loopback without a token, and the
/// token when there is one.
fn refused(api: &Api, headers: &HeaderMap) -> Option<Response> {
    if !api.stream_open {
        return Some(
            (
                StatusCode::FORBIDDEN,
                "the live stream and the advice are off: privmon listens beyond loopback \
                 without api_token\n",
            )
                .into_response(),
        );
    }
    if let Some(token) = &api.token
        && !authorized(headers, token)
    {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required\n",
            )
                .into_response(),
        );
    }
    None
}

/// `GET /advice?namespace=&pod=&container=`: a JSON array of advice, one per workload.
async fn advice_handler(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(filter): Query<advisor::Filter>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let advice = api
        .advisor
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .advise(&filter, advisor::unix_now());
    axum::Json(advice).into_response()
}

/// `GET /baseline`: every workload's observations, as `privmon baseline export` writes them.
async fn baseline_handler(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let export = api
        .advisor
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .export(&api.node, advisor::unix_now());
    axum::Json(export).into_response()
}

/// `POST /advice/reset?namespace=&pod=&container=`: forget the matching workloads' use and
/// learn their baselines again; answers `{"reset": N}`.
async fn reset_handler(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(filter): Query<advisor::Filter>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let n = api
        .advisor
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reset(&filter, advisor::unix_now());
    info!(workloads = n, ?filter, "advisor reset");
    axum::Json(serde_json::json!({ "reset": n })).into_response()
}

/// `GET /enforcement`: the switch, what this kernel can do, the armed containers and the
/// suspended workloads.
async fn enforcement_handler(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    axum::Json(api.enforcement.status()).into_response()
}

/// `POST /enforcement/pause`: the run-time off switch (every container is disarmed within
/// a fraction of a second; `GET /enforcement` says when).
async fn pause_handler(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    api.enforcement.pause(true);
    tracing::warn!("enforcement pause requested through the API");
    axum::Json(serde_json::json!({ "paused": true })).into_response()
}

/// `POST /enforcement/resume`: acts again, and lifts the kill-loop guard's suspensions.
async fn resume_handler(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    api.enforcement.pause(false);
    info!("enforcement resume requested through the API");
    axum::Json(serde_json::json!({ "paused": false })).into_response()
}

/// `GET /events?namespace=&pod=&container=&kind=a,b&severity=&rule=&history=N`
async fn events_handler(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(query): Query<stream::Query>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let sel = match query.selector() {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let Some((past, rx)) = api.hub.subscribe(&sel) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "privmon is stopping\n").into_response();
    };
    let state = (past.into_iter(), rx, sel, api.clone());
    let body = futures_util::stream::unfold(state, |(mut past, mut rx, sel, api)| async move {
        if let Some(r) = past.next() {
            return Some((
                Ok::<_, std::convert::Infallible>(line(&r)),
                (past, rx, sel, api),
            ));
        }
        loop {
            match rx.recv().await {
                Ok(r) if sel.admits(&r) => {
                    return Some((Ok(line(&r)), (past, rx, sel, api)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => api.hub.lagged(n),
                Err(RecvError::Closed) => return None,
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "0123456789abcdef"));
        h.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdef".parse().unwrap(),
        );
        assert!(authorized(&h, "0123456789abcdef"));
        assert!(!authorized(&h, "0123456789abcdeX"));
        assert!(!authorized(&h, "0123456789abcdef0"));
        h.insert(
            header::AUTHORIZATION,
            "Basic 0123456789abcdef".parse().unwrap(),
        );
        assert!(!authorized(&h, "0123456789abcdef"));
    }
}
