//! Status changes: suspend, reinstate, revoke — status records signed by the issuer key and
//! serialised with a lock so the state check and the append cannot interleave; the log
//! re-checks the transition when sequencing.

use std::sync::atomic::Ordering;
use std::time::Instant;

use cyberlabel_core::cose;
use cyberlabel_core::merkle;
use cyberlabel_core::status::StatusRecord;
use serde_json::Value;

use crate::auth::{Action, TokenRecord};
use crate::now_unix;

use super::issue::{ledger_error, require};
use super::{
    LabelView, ReasonCode, Service, ServiceError, StatusAction, StatusRequest, state_name,
};

impl Service {
    /// Suspends, reinstates or revokes a label (a status record signed by the issuer).
    ///
    /// # Errors
    /// 403 (role/scope), 404 (not a label), 409 (illegal transition or foreign issuer),
    /// 422 (unknown reason).
    pub async fn change_status(
        &self,
        op: &TokenRecord,
        index: u64,
        action: StatusAction,
        req: StatusRequest,
        idem: Option<[u8; 32]>,
    ) -> Result<LabelView, ServiceError> {
        require(op, Action::ChangeStatus)?;
        let reason = parse_reason(req.reason.as_ref(), action)?;
        let (bytes, claim) = self.label_at(index)?;
        if !op.covers_scheme(&claim.scheme) {
            return Err(ServiceError::forbidden(format!(
                "this token may not act on scheme {}",
                claim.scheme
            )));
        }
        let kid = cose::decode_entry(&bytes)
            .map(|e| e.kid())
            .map_err(ServiceError::internal)?;
        if kid != self.issuer_kid {
            return Err(ServiceError::conflict(
                "label was signed by another issuer key; this server cannot sign its status records",
            ));
        }
        let _guard = self.status_lock.lock().await;
        let (state, _) = self.ledger.status(index).map_err(ServiceError::internal)?;
        if idem.is_none() && cyberlabel_core::status::apply_action(state, action).is_none() {
            return Err(ServiceError::conflict(format!(
                "cannot {} label {index}: it is {}",
                action.as_str(),
                state_name(state)
            )));
        }
        let record = StatusRecord {
            action,
            target: index,
            reason,
            time: now_unix(),
            target_leaf_hash: merkle::leaf_hash(&bytes),
        };
        let key = self.issuer_key.clone();
        let started = Instant::now();
        let a = self
            .ledger
            .append(
                Box::new(move |_| Ok(cose::sign_status(&record, &key))),
                idem,
            )
            .await
            .map_err(ledger_error)?;
        self.observe(started, &a);
        if !a.replay {
            let slot = match action {
                StatusAction::Suspend => 0,
                StatusAction::Reinstate => 1,
                _ => 2,
            };
            self.metrics.status_changes[slot].fetch_add(1, Ordering::Relaxed);
            if a.batch > 0 {
                self.metrics.batch_size.observe(a.batch as f64);
            }
        }
        let mut view = self.label_view(index)?;
        view.record_index = Some(a.index);
        Ok(view)
    }
}

/// A reason by code (`8`, also as a string `"8"`) or by name. Names are spelled as in
/// FORMATS §2 (`unremediated_vulnerability`); case, hyphens and spaces are forgiven
/// (`Unremediated-Vulnerability`), so what `cyberlabel schemes` prints and what people type
/// both work. An unknown reason is refused with the full list.
fn parse_reason(v: Option<&Value>, action: StatusAction) -> Result<ReasonCode, ServiceError> {
    let bad = |given: &str| {
        let list: Vec<String> = (0..=u8::MAX)
            .map_while(ReasonCode::from_u8)
            .map(|c| format!("{} {}", c.as_u8(), c.as_str()))
            .collect();
        ServiceError::invalid_field(
            "reason",
            format!(
                "unknown reason {given}: give a code or a name: {} (docs/FORMATS.md §2)",
                list.join(", ")
            ),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(match action {
            StatusAction::Suspend => ReasonCode::from_u8(12),
            StatusAction::Reinstate => ReasonCode::from_u8(13),
            _ => ReasonCode::from_u8(0),
        }
        .ok_or_else(|| bad("(default)"))?),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .and_then(ReasonCode::from_u8)
            .ok_or_else(|| bad(&n.to_string())),
        Some(Value::String(s)) => reason_by_name(s).ok_or_else(|| bad(&format!("{s:?}"))),
        Some(other) => Err(bad(&other.to_string())),
    }
}

/// A reason from its name or its code as text (see [`parse_reason`]).
pub fn reason_by_name(s: &str) -> Option<ReasonCode> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        return ReasonCode::from_u8(n);
    }
    let canonical: String = s
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    ReasonCode::from_name(&canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_by_code_and_name() {
        let r = |v: Value| parse_reason(Some(&v), StatusAction::Revoke).map(ReasonCode::as_u8);
        assert_eq!(r(Value::from(8)), Ok(8));
        assert_eq!(r(Value::from("8")), Ok(8));
        assert_eq!(r(Value::from("unremediated_vulnerability")), Ok(8));
        assert_eq!(r(Value::from("Unremediated-Vulnerability")), Ok(8));
        assert_eq!(r(Value::from("unremediated vulnerability")), Ok(8));
        for bad in [Value::from(15), Value::from("vuln"), Value::from(true)] {
            let Err(ServiceError::Invalid { field, message }) = r(bad.clone()) else {
                panic!("{bad} accepted");
            };
            assert_eq!(field, "reason");
            assert!(
                message.contains("8 unremediated_vulnerability")
                    && message.contains("0 unspecified")
                    && message.contains("14 mutual_recognition_scope_ended"),
                "{message}"
            );
        }
        assert_eq!(
            parse_reason(None, StatusAction::Suspend).map(ReasonCode::as_u8),
            Ok(12)
        );
    }
}
