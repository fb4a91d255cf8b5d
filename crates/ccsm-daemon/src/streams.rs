//! Live events: a WebSocket for many sessions (`/ws/sessions`) and SSE for one
//! (`/api/claude/sessions/{id}/events`). A subscriber that names the last
//! number it saw of a session gets what it missed from that session's buffer,
//! then follows live; one that reads too slowly gets a `lagged` event (its
//! place in the shared ring was overwritten) and refetches: it never slows a
//! run and never holds more than its place in the ring.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ccsm_core::{Event, EventRecord};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::envelope::{ApiError, Params};
use crate::fleet::{frame_of, Fleet, Published};
use crate::AppState;

fn lagged_frame(missed: u64, session: Option<String>) -> Arc<str> {
    frame_of(&EventRecord {
        seq: 0,
        at: crate::fleet::now_ms(),
        session,
        event: Event::Lagged { missed },
    })
}

/// `?ids=a,b&after=a:12,b:3` (or `after=12` with one id).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    pub ids: Option<String>,
    pub after: Option<String>,
}

struct Subscription {
    /// Session ids; `None`: all.
    ids: Option<Vec<String>>,
    /// The last number seen per session.
    last: HashMap<String, u64>,
}

fn parse_subscription(fleet: &Fleet, q: &WsQuery) -> Result<(Subscription, bool), ApiError> {
    let ids = match q.ids.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|k| fleet.get(k).map(|r| r.id.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::from)?,
        ),
    };
    let mut last = HashMap::new();
    let replay = ids.is_some() || q.after.is_some();
    if let Some(after) = q.after.as_deref().filter(|s| !s.is_empty()) {
        for part in after.split(',') {
            let (id, n) = match part.rsplit_once(':') {
                Some((id, n)) => (fleet.get(id)?.id.clone(), n),
                None => match ids.as_deref() {
                    Some([one]) => (one.clone(), part),
                    _ => {
                        return Err(ApiError::invalid(
                            "after: give id:number pairs, or one number with one id",
                        ))
                    }
                },
            };
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| ApiError::invalid(format!("after: {n:?} is not a number")))?;
            last.insert(id, n);
        }
    }
    Ok((Subscription { ids, last }, replay))
}

impl Subscription {
    fn wants(&self, p: &Published) -> bool {
        match (&self.ids, &p.record.session) {
            (None, _) => true,
            (Some(ids), Some(s)) => ids.contains(s),
            (Some(_), None) => false,
        }
    }

    /// Whether a live event is new to this subscriber (not replayed already).
    fn fresh(&mut self, p: &Published) -> bool {
        let Some(s) = &p.record.session else {
            return true;
        };
        let seen = self.last.get(s).copied().unwrap_or(0);
        if p.record.seq <= seen {
            return false;
        }
        self.last.insert(s.clone(), p.record.seq);
        true
    }

    /// The buffered events after what was seen, per session, with a `lagged`
    /// frame where the buffer no longer holds all of them.
    fn replay(&mut self, fleet: &Fleet) -> Vec<Arc<str>> {
        let runs: Vec<_> = match &self.ids {
            Some(ids) => ids.iter().filter_map(|i| fleet.get(i).ok()).collect(),
            None => fleet.runs(),
        };
        let mut out = Vec::new();
        for run in runs {
            let after = self.last.get(&run.id).copied().unwrap_or(0);
            let r = run.log.replay(after);
            if r.missed > 0 {
                out.push(lagged_frame(r.missed, Some(run.id.clone())));
            }
            out.extend(r.events.iter().map(|p| p.frame.clone()));
            self.last.insert(run.id.clone(), r.last);
        }
        out
    }
}

/// The bearer subprotocol a browser offered, echoed back as the handshake needs.
fn offered_protocol(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .map(str::trim)
        .find(|p| p.starts_with("bearer."))
        .map(str::to_owned)
}

#[utoipa::path(
    get,
    path = "/ws/sessions",
    tag = "events",
    params(WsQuery),
    responses((status = 101, description = "a WebSocket of events (JSON frames)"), crate::envelope::Refusals)
)]
pub async fn ws(
    State(state): State<AppState>,
    Params(q): Params<WsQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(r) => return ApiError::new(r.status(), "invalidInput", r.body_text()).into_response(),
    };
    let (sub, replay) = match parse_subscription(&state.fleet, &q) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let upgrade = match offered_protocol(&headers) {
        Some(p) => upgrade.protocols([p]),
        None => upgrade,
    };
    let fleet = state.fleet.clone();
    // Small buffers: a subscriber costs tens of kilobytes, not the library's
    // default of 128 KiB each way (frames are written one by one anyway).
    upgrade
        .read_buffer_size(4 << 10)
        .write_buffer_size(8 << 10)
        .max_write_buffer_size(256 << 10)
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| follow(socket, fleet, sub, replay))
}

async fn send(socket: &mut WebSocket, frame: &str) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(frame)))
        .await
        .is_ok()
}

async fn follow(mut socket: WebSocket, fleet: Fleet, mut sub: Subscription, replay: bool) {
    // Subscribe first, then replay: nothing published in between is lost, and
    // what both hold is sent once.
    let mut rx = fleet.subscribe();
    let stopping = fleet.stopping();
    tokio::pin!(stopping);
    if replay {
        for frame in sub.replay(&fleet) {
            if !send(&mut socket, &frame).await {
                return;
            }
        }
    }
    loop {
        tokio::select! {
            () = &mut stopping => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            got = rx.recv() => match got {
                Ok(p) => {
                    if sub.wants(&p) && sub.fresh(&p) && !send(&mut socket, &p.frame).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    if !send(&mut socket, &lagged_frame(n, None)).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the library; anything else is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SseQuery {
    pub after: Option<u64>,
}

/// SSE of one session: `event:` is the wire name, `id:` the sequence number
/// (a reconnecting `EventSource` sends it back as `Last-Event-ID`).
#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/events",
    tag = "events",
    params(("id" = String, Path, description = "a session id, or a live session's name"), SseQuery),
    responses((status = 200, description = "server-sent events: `event:` the kind, `id:` the sequence number", content_type = "text/event-stream", body = String), crate::envelope::Refusals)
)]
pub async fn sse(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(q): Params<SseQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let run = state.fleet.get(&id)?;
    let after = match headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u64>())
    {
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(ApiError::invalid("Last-Event-ID is not a number")),
        None => q.after.unwrap_or(0),
    };
    let rx = state.fleet.subscribe();
    let mut sub = Subscription {
        ids: Some(vec![run.id.clone()]),
        last: HashMap::from([(run.id.clone(), after)]),
    };
    let replayed = sub.replay(&state.fleet);
    let to_sse = |frame: &Arc<str>, name: &str, seq: u64| {
        let e = SseEvent::default().event(name).data(frame.as_ref());
        if seq > 0 {
            e.id(seq.to_string())
        } else {
            e
        }
    };
    let head: Vec<Result<SseEvent, Infallible>> = replayed
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f).unwrap_or_default();
            let name = v.get("type").and_then(|t| t.as_str()).unwrap_or("message");
            let seq = v.get("seq").and_then(|s| s.as_u64()).unwrap_or(0);
            Ok(to_sse(f, name, seq))
        })
        .collect();
    let live = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |item| {
        let out = match item {
            Ok(p) if sub.wants(&p) && sub.fresh(&p) => Some(Ok(to_sse(
                &p.frame,
                p.record.event.wire_name(),
                p.record.seq,
            ))),
            Ok(_) => None,
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Some(Ok(to_sse(&lagged_frame(n, None), "lagged", 0)))
            }
        };
        futures::future::ready(out)
    });
    let stream = futures::stream::iter(head)
        .chain(live)
        .take_until(state.fleet.stopping());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
