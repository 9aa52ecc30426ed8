//! Answering a prompt, exactly once (docs/design.md, "Answering a prompt").
//!
//! The request claims the prompt in the hub (one answer in flight per prompt), checks that it
//! is still pending and that the answer fits, sends it down the session's link, and waits for
//! `cr` to settle the prompt. 200 if the settlement is this answer's, 409 with the winner if
//! anything else settled it first, 503 if `cr` is not linked (nothing is queued), 504 if `cr`
//! does not confirm in time. Every attempt leaves an audit row.

use std::time::Duration;

use cr_proto::{Answer, AnswerConflict, AnsweredBy, Downlink, Prompt, PromptId, PromptStatus};
use tokio::time::timeout;

use crate::auth::{Caller, ClientInfo};
use crate::error::AppError;
use crate::hub::Claim;
use crate::state::SharedState;
use crate::store::{self, AuditRow};

/// Longest an answer request waits for `cr` to settle the prompt.
pub const ANSWER_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a request that found another answer in flight looks again.
const CLAIM_ATTEMPTS: usize = 3;

fn conflict(id: &PromptId, status: PromptStatus, by: Option<AnsweredBy>) -> AppError {
    let who = by.map_or(String::new(), |b| format!(" by {}", b.as_str()));
    AppError::AnswerConflict(AnswerConflict {
        error: format!("this prompt was already settled: {}{who}", status.as_str()),
        prompt_id: id.clone(),
        status,
        by,
    })
}

/// Answers prompt `id`, audits the attempt, and returns the prompt in its final state.
pub async fn answer(
    state: &SharedState,
    id: &str,
    answer: Answer,
    caller: &Caller,
    client: &ClientInfo,
) -> Result<Prompt, AppError> {
    let result = match PromptId::new(id) {
        Ok(prompt_id) => settle(state, &prompt_id, &answer).await,
        Err(_) => Err(AppError::NotFound("no such prompt".into())),
    };
    let row = AuditRow {
        prompt_id: id.chars().take(cr_proto::ids::MAX_ID_LEN).collect(),
        actor: caller.actor.audit_name(),
        remote_addr: client.addr(),
        user_agent: client.user_agent.clone(),
        answer: serde_json::to_string(&answer).expect("answers serialize"),
        outcome: result.as_ref().map_or_else(|e| e.status().as_u16(), |_| 200),
        detail: match &result {
            Ok(p) => format!("{} by phone", p.status.as_str()),
            Err(e) => e.to_string(),
        },
        at: crate::now(),
    };
    if let Err(e) = state.store.write(move |tx| store::insert_audit(tx.conn(), &row)).await {
        tracing::error!(error = %e, "writing the answer audit row failed");
    }
    result
}

async fn settle(state: &SharedState, id: &PromptId, answer: &Answer) -> Result<Prompt, AppError> {
    for _ in 0..CLAIM_ATTEMPTS {
        let guard = match state.hub.claim(id) {
            Claim::Mine(guard) => guard,
            Claim::Busy(mut other) => {
                // Another answer is in flight: wait for its outcome, then look again.
                let _ = timeout(ANSWER_CONFIRM_TIMEOUT, other.wait_for(Option::is_some)).await;
                continue;
            }
        };
        // Claimed before reading: a settlement committed after this read reaches the claim.
        let prompt = state.store.read_now(|c| store::prompt(c, id))?;
        let prompt = prompt.ok_or_else(|| AppError::NotFound("no such prompt".into()))?;
        if prompt.status.is_final() {
            return Err(conflict(id, prompt.status, prompt.by));
        }
        answer.validate_for(&prompt).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let not_linked = || {
            AppError::Unavailable(
                "the session's cr is not connected right now, so the answer was not sent; \
                 answer at the terminal or try again when it reconnects"
                    .into(),
            )
        };
        let downlink = state.hub.downlink(&prompt.session_id).ok_or_else(not_linked)?;
        downlink
            .try_send(Downlink::Answer { prompt_id: id.clone(), answer: answer.clone() })
            .map_err(|_| not_linked())?;
        let mut settled = guard.settled.clone();
        let outcome = match timeout(ANSWER_CONFIRM_TIMEOUT, settled.wait_for(Option::is_some)).await
        {
            Ok(Ok(s)) => (*s).expect("waited for Some"),
            _ => {
                return Err(AppError::Timeout(format!(
                    "cr did not confirm the answer within {} s; the prompt may still be open",
                    ANSWER_CONFIRM_TIMEOUT.as_secs()
                )));
            }
        };
        if outcome.by != AnsweredBy::Phone || outcome.status != answer.status() {
            return Err(conflict(id, outcome.status, Some(outcome.by)));
        }
        let prompt = state.store.read_now(|c| store::prompt(c, id))?;
        return prompt.ok_or_else(|| AppError::NotFound("no such prompt".into()));
    }
    // Still contended after several rounds: report the state as it stands.
    match state.store.read_now(|c| store::prompt(c, id))? {
        Some(p) if p.status.is_final() => Err(conflict(id, p.status, p.by)),
        Some(_) => {
            Err(AppError::Conflict("another answer to this prompt is in flight; try again".into()))
        }
        None => Err(AppError::NotFound("no such prompt".into())),
    }
}
