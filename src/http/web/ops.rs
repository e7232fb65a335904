//! Usage and cost (the API's report on a page), and the owner's queue panel: the company's jobs
//! by kind (waiting, scheduled, running, behind earlier ones, dead; the lag), its dead jobs, and
//! a retry for each.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::fields::Fields;
use super::{Ctx, csrf_field, see_other, when};
use crate::domain::dates::Day;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::extract::ApiQuery;
use crate::http::routes::usage::{UsageQuery, usage_report};
use crate::queue::JobId;
use crate::queue::ops::{self, JobScope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/usage", get(usage))
        .route("/queue", get(queue))
        .route("/queue/dead/{id}/retry", post(retry))
}

#[derive(Debug, Deserialize, Default)]
struct UsagePage {
    from: Option<String>,
    to: Option<String>,
}

async fn usage(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<UsagePage>,
) -> Result<Response, AppError> {
    // A date that does not parse is no date: the report's default period (this month) instead.
    let day = |raw: &Option<String>| raw.as_deref().and_then(|d| Day::parse(d).ok());
    let period = UsageQuery {
        from: day(&query.from),
        to: day(&query.to),
    };
    let report = usage_report(State(state.clone()), ctx.user.clone(), ApiQuery(period))
        .await?
        .0;
    let body = html! {
        h1 { (ctx.t("usage")) }
        form #period method="get" action="/usage" {
            label { (ctx.t("from")) " " input type="date" name="from" value=(report.from); }
            " "
            label { (ctx.t("to")) " " input type="date" name="to" value=(report.to); }
            button type="submit" { (ctx.t("filter")) }
        }
        p #month {
            (ctx.t("month_spent")) " " strong { (format!("${:.2}", report.month_cost_usd)) } " "
            @match report.monthly_budget_usd {
                Some(budget) => { (ctx.t("of_budget")) " " (format!("${budget:.2}")) },
                None => { "(" (ctx.t("no_budget")) ")" },
            }
        }
        @if let Some(since) = &report.quota_exhausted_at {
            p.error #quota { (ctx.t("quota_exhausted")) " " (when(since)) }
        }
        @if report.days.is_empty() {
            p #no-usage { (ctx.t("no_usage")) }
        } @else {
            div.scroll { table #usage {
                thead { tr {
                    th { (ctx.t("day")) } th { (ctx.t("model")) } th { (ctx.t("calls")) }
                    th.hide-narrow { (ctx.t("tokens")) } th.hide-narrow { (ctx.t("audio")) }
                    th { (ctx.t("cost")) }
                } }
                tbody {
                    @for d in &report.days {
                        tr {
                            td { (d.day) } td { (d.model) } td { (d.calls) }
                            td.hide-narrow { (d.prompt_tokens) " / " (d.completion_tokens) }
                            td.hide-narrow { (format!("{:.1}", d.audio_seconds)) }
                            td { (format!("{:.4}", d.cost_usd)) }
                        }
                    }
                    tr #total {
                        th colspan="5" { (ctx.t("total")) }
                        th { (format!("{:.4}", report.total_cost_usd)) }
                    }
                }
            } }
        }
    };
    Ok(ctx.render(StatusCode::OK, ctx.t("usage"), body))
}

#[derive(Debug, Deserialize, Default)]
struct QueuePage {
    retried: Option<String>,
}

/// Dead jobs the panel lists, newest first.
const DEAD_SHOWN: i64 = 50;

async fn queue(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<QueuePage>,
) -> Result<Response, AppError> {
    if let Some(refused) = ctx.not_owner() {
        return Ok(refused);
    }
    let scope = JobScope::Tenant(ctx.user.tenant_id);
    let stats = ops::stats(&state.pool, scope).await?;
    let dead = ops::dead(&state.pool, scope, None, DEAD_SHOWN).await?;
    let paused = stats.paused_tenants.contains(&ctx.user.tenant_id);
    let body = html! {
        h1 { (ctx.t("queue")) }
        @if paused { p.error #paused { (ctx.t("paused")) } }
        @if query.retried.is_some() { p.notice role="status" { (ctx.t("retried")) } }
        @if stats.kinds.is_empty() {
            p #queue-empty { (ctx.t("queue_empty")) }
        } @else {
            div.scroll { table #kinds {
                thead { tr {
                    th { (ctx.t("kind")) } th { (ctx.t("runnable")) } th { (ctx.t("scheduled")) }
                    th { (ctx.t("running")) } th { (ctx.t("blocked")) } th { (ctx.t("dead")) }
                    th { (ctx.t("lag")) }
                } }
                tbody { @for k in &stats.kinds {
                    tr {
                        td { code { (k.kind) } } td { (k.runnable) } td { (k.scheduled) }
                        td { (k.running) } td { (k.blocked) } td.dead { (k.dead) }
                        td { (format!("{:.1}", k.oldest_runnable_secs.unwrap_or(0.0))) }
                    }
                } }
            } }
        }
        h2 { (ctx.t("dead_jobs")) }
        @if dead.is_empty() {
            p #no-dead { (ctx.t("no_dead")) }
        } @else {
            div.scroll { table #dead {
                thead { tr {
                    th { (ctx.t("kind")) } th { (ctx.t("attempts")) } th { (ctx.t("error")) }
                    th.hide-narrow { (ctx.t("died_at")) } th { "" }
                } }
                tbody { @for job in &dead {
                    tr {
                        td { code { (job.kind) } } td { (job.attempts) }
                        td.error-text { (job.last_error.as_deref().unwrap_or("—")) }
                        td.hide-narrow { (when(&job.died_at)) }
                        td {
                            form.inline method="post" action={ "/queue/dead/" (job.id) "/retry" } {
                                (csrf_field(&ctx.csrf))
                                button.retry type="submit" { (ctx.t("retry")) }
                            }
                        }
                    }
                } }
            } }
        }
    };
    Ok(ctx.render(StatusCode::OK, ctx.t("queue"), body))
}

/// Runs one of the company's dead jobs again (another company's id is a 404).
async fn retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AppError> {
    let ctx = match Ctx::form(&state, &headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return Ok(refused),
    };
    if let Some(refused) = ctx.not_owner() {
        return Ok(refused);
    }
    let Ok(id) = id.parse::<i64>() else {
        return Ok(ctx.not_found());
    };
    let scope = JobScope::Tenant(ctx.user.tenant_id);
    match ops::redrive(&state.pool, scope, JobId(id)).await? {
        Some(new_id) => {
            state.waker.wake();
            tracing::info!(tenant_id = %ctx.user.tenant_id, job_id = id, %new_id,
                "dead job retried on the dashboard");
            Ok(see_other("/queue?retried=1", []))
        }
        None => Ok(ctx.not_found()),
    }
}
