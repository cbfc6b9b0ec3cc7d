//! The vocabulary of the treatment catalogue, shared with screening so the
//! two can never disagree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A kind of injectable a treatment uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Injectable {
    /// Botulinum-toxin type: relaxes chosen muscles.
    Neuromodulator,
    /// Adds volume to fill hollows and smooth contours.
    DermalFiller,
}

/// A condition that rules treatment out. The codes are the screening's
/// reason codes and the catalogue's contraindication codes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Contraindication {
    Pregnant,
    Breastfeeding,
    AutoimmuneCondition,
    ActiveInfectionAtSite,
}

impl Contraindication {
    pub const ALL: [Contraindication; 4] = [
        Contraindication::Pregnant,
        Contraindication::Breastfeeding,
        Contraindication::AutoimmuneCondition,
        Contraindication::ActiveInfectionAtSite,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Pregnant => "pregnant",
            Self::Breastfeeding => "breastfeeding",
            Self::AutoimmuneCondition => "autoimmune_condition",
            Self::ActiveInfectionAtSite => "active_infection_at_site",
        }
    }

    /// Why it rules treatment out, in plain language.
    pub fn message(self) -> &'static str {
        match self {
            Self::Pregnant => "Treatment is not given during pregnancy.",
            Self::Breastfeeding => "Treatment is not given while breastfeeding.",
            Self::AutoimmuneCondition => "Treatment is not given to people with an autoimmune condition.",
            Self::ActiveInfectionAtSite => {
                "Treatment cannot be given while there is an active infection where the injections would go."
            }
        }
    }
}
