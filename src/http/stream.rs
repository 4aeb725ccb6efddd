//! A resource's events as server-sent events: `GET /api/v1/resources/{id}/events/stream`.
//! Each event's `id` is its `seq`; a client that reconnects with `Last-Event-ID` (or
//! `?after=N`) gets what it missed. Events are read from the store, so a report or an
//! action taken on another replica arrives too: at the latest after
//! [`HttpConfig::stream_poll`](super::HttpConfig::stream_poll), at once when this process
//! took it. The stream ends with an `end` event once the resource has ended.

use super::caller::Caller;
use super::input::Q as Query;
use super::resources::launch_id;
use super::views::{ErrorBody, EventView};
use super::{Api, ApiError};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use mliy_core::engine::Engine;
use mliy_core::model::{LaunchId, Principal};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// Where to resume.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct After {
    /// Send only events after this `seq` (as the `Last-Event-ID` header does).
    after: Option<u64>,
}

/// The `seq` to resume after: `Last-Event-ID`, else `?after`, else 0.
fn resume_after(headers: &HeaderMap, after: Option<u64>) -> Result<u64, ApiError> {
    match headers.get("last-event-id").map(|v| v.to_str().unwrap_or("")) {
        Some(v) => v.trim().parse().map_err(|_| {
            ApiError(mliy_core::Error::validation("Last-Event-ID", v, "the seq of an event (a whole number)"))
        }),
        None => Ok(after.unwrap_or(0)),
    }
}

/// A resource's events as they happen (`text/event-stream`): `phase` events whose data is an
/// event as `GET …/events` gives it, then `end` once the resource has ended.
#[utoipa::path(get, path = "/api/v1/resources/{id}/events/stream", tag = "resources",
    params(("id" = String, Path, description = "The launch id", pattern = "^[a-z0-9][a-z0-9-]{0,63}$"), After,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such resource the caller may see", body = ErrorBody),
        (status = 422, description = "Not a launch id, or a bad Last-Event-ID", body = ErrorBody),
    ))]
async fn stream(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: HeaderMap,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = launch_id(&id)?;
    let after = resume_after(&headers, q.after)?;
    // Refused here, before the stream starts, for a resource the caller may not see.
    api.engine.get(&caller.principal, &id).await?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(feed(api.engine.clone(), caller.principal, id, after, api.config.stream_poll, tx));
    Ok(Sse::new(ReceiverStream::new(rx).map(Ok)).keep_alive(KeepAlive::default()))
}

/// Sends the events after `last` until the resource ends or the client goes away.
async fn feed(engine: Engine, p: Principal, id: LaunchId, mut last: u64, poll: Duration, tx: mpsc::Sender<Event>) {
    let Ok(mut live) = engine.watch(&p, &id).await else { return };
    loop {
        let events = match engine.events(&p, &id).await {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(Event::default().event("error").data(e.to_string())).await;
                return;
            }
        };
        let mut ended = events.last().is_some_and(|e| e.to.is_terminal());
        let sent = last;
        for e in events.iter().filter(|e| e.seq > sent) {
            let Ok(event) = Event::default().id(e.seq.to_string()).event("phase").json_data(EventView::from(e)) else {
                continue;
            };
            if tx.send(event).await.is_err() {
                return;
            }
            last = e.seq;
        }
        if ended {
            let _ = tx.send(Event::default().event("end").data("")).await;
            return;
        }
        tokio::select! {
            _ = live.next() => {}
            () = tokio::time::sleep(poll) => {}
            () = tx.closed() => ended = true,
        }
        if ended {
            return;
        }
    }
}
