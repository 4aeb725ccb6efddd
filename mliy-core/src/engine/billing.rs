//! The one place billing follows the lifecycle: an open segment while a resource runs,
//! none otherwise.

use super::Shared;
use crate::error::Result;
use crate::lifecycle::{Phase, Resource};
use crate::model::BillingSegment;

/// Whether the machine runs (and costs its hourly price) in this phase: from the end of
/// provisioning until a stop or termination begins.
pub(super) fn billable(phase: &Phase) -> bool {
    matches!(phase, Phase::Bootstrapping { .. } | Phase::Ready | Phase::Rebooting | Phase::Running | Phase::Waiting)
}

impl Shared {
    /// Makes the billing match the phase: an open segment while the machine runs, none
    /// otherwise. Idempotent, so the driver also calls it to reconcile after a crash.
    pub(crate) async fn settle_bill(&self, r: &Resource) -> Result<()> {
        if billable(&r.phase) {
            let open = self.store.billing(Some(&r.id)).await?.iter().any(|s| s.end.is_none());
            if !open {
                self.open_bill(r).await?;
            }
            Ok(())
        } else {
            self.close_bill(r).await
        }
    }

    async fn open_bill(&self, r: &Resource) -> Result<()> {
        let segment = BillingSegment {
            resource: r.id.clone(),
            state: crate::model::BillState::Running,
            hourly: None,
            description: r.instance_type.clone(),
            start: self.clock.now(),
            end: None,
        };
        self.store.open_billing(&segment).await
    }

    async fn close_bill(&self, r: &Resource) -> Result<()> {
        self.store.close_billing(&r.id, self.clock.now()).await.map(|_| ())
    }
}
