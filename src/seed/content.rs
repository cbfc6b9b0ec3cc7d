//! Seed content for the clinic: the treatment catalogue and the FAQ.
//!
//! Text may contain the placeholders `{clinic_name}`, `{deposit}`, `{minimum_age}`
//! and `{cancellation_notice_hours}`, which the loader substitutes at seed time
//! from the clinic's configuration. No clinic-specific values are written here.

use super::{Contraindication, Injectable};

pub struct SeedTreatment {
    pub slug: &'static str,
    pub name: &'static str,
    /// One or two sentences.
    pub summary: &'static str,
    /// Several paragraphs separated by "\n\n".
    pub description: &'static str,
    pub injectables: &'static [Injectable],
    /// (min, max) length of a treatment session in minutes.
    pub session_minutes: (u16, u16),
    /// Per injectable: (min, max) months the effect typically lasts.
    pub effect_duration_months: &'static [(Injectable, u16, u16)],
    /// Per injectable: when results usually appear, in plain language.
    pub results_onset: &'static [(Injectable, &'static str)],
    pub anaesthetic: &'static str,
    /// Short phrases, e.g. "redness at the injection site".
    pub side_effects: &'static [&'static str],
    pub contraindications: &'static [Contraindication],
    pub from_price_pence: Option<i64>,
    pub display_order: i32,
}

pub struct SeedPractitioner {
    pub name: &'static str,
    pub title: &'static str,
    /// Weekly opening windows in clinic-local time: (weekday, opens, closes).
    pub hours: &'static [(chrono::Weekday, &'static str, &'static str)],
}

/// The clinic's one practitioner and her weekly hours.
pub const PRACTITIONERS: &[SeedPractitioner] = &[SeedPractitioner {
    name: "Nurse Julie",
    title: "Nurse prescriber",
    hours: &[
        (chrono::Weekday::Tue, "09:00", "17:00"),
        (chrono::Weekday::Wed, "09:00", "17:00"),
        (chrono::Weekday::Thu, "12:00", "20:00"),
        (chrono::Weekday::Fri, "09:00", "17:00"),
        (chrono::Weekday::Sat, "10:00", "14:00"),
    ],
}];

pub struct SeedFaq {
    pub question: &'static str,
    pub answer: &'static str,
    /// One of: "about_asymmetry", "treatment", "results", "safety",
    /// "eligibility", "booking".
    pub topic: &'static str,
    pub treatment_slug: Option<&'static str>,
    /// 1.. in display order, unique.
    pub position: i32,
}

const FACIAL_ASYMMETRY: &str = "facial-asymmetry-correction";

pub const TREATMENTS: &[SeedTreatment] = &[SeedTreatment {
    slug: FACIAL_ASYMMETRY,
    name: "Facial asymmetry correction",
    summary: "A non-surgical injectable treatment that aims to bring the two sides of \
the face into better balance. Depending on what is behind the unevenness, it uses \
neuromodulators, dermal fillers or a combination of the two.",
    description: "Most faces are a little uneven, but for some people the difference \
between the two sides is more noticeable. It can come from muscles that pull harder on \
one side than the other, or from a loss or lack of volume in one area. Facial asymmetry \
correction uses carefully placed injections to address these differences, and every \
plan is worked out for the individual patient.\n\n\
Neuromodulators, which are botulinum-toxin based medicines, relax selected facial \
muscles. Where one side of the face is more active than the other, softening the \
stronger muscles can help the two sides work more evenly. Dermal fillers add volume \
instead, filling hollows and smoothing contours that are uneven. Some patients need \
only one of these; others benefit from both together.\n\n\
A treatment session usually takes between 30 and 45 minutes, depending on how many \
areas are treated and how marked the asymmetry is. A numbing cream is applied to the \
skin first to keep you comfortable. Neuromodulators begin to take effect over a few \
days, with the result usually settled within about a week, and typically last three \
to six months. Fillers show a difference straight away, which continues to improve \
over the next few days as any swelling settles; depending on the product and the area, \
they can last from around six months to as long as five years.\n\n\
Side effects are usually mild and short-lived, such as redness, swelling or bruising \
where the injections were given, and they tend to clear within a few days. Your \
practitioner will talk you through the risks at your consultation. Treatment can make \
a considerable difference to facial balance, but it may not remove every trace of \
asymmetry and results differ from one person to the next, so you will be given an \
honest, personal assessment before anything is agreed.\n\n\
For safety reasons we cannot treat anyone who is pregnant or breastfeeding, who has an \
autoimmune condition, or who has an active infection where the injections would be \
given. Patients must be at least {minimum_age} years old on the day of their \
appointment.",
    injectables: &[Injectable::Neuromodulator, Injectable::DermalFiller],
    session_minutes: (30, 45),
    effect_duration_months: &[
        (Injectable::Neuromodulator, 3, 6),
        (Injectable::DermalFiller, 6, 60),
    ],
    results_onset: &[
        (
            Injectable::Neuromodulator,
            "Gradually over a few days, with the full effect usually visible within about a week",
        ),
        (
            Injectable::DermalFiller,
            "Straight away, continuing to improve over the following days as any swelling settles",
        ),
    ],
    anaesthetic:
        "A topical anaesthetic cream is applied to numb the area before any injections are given.",
    side_effects: &[
        "redness at the injection site",
        "swelling at the injection site",
        "bruising at the injection site",
    ],
    contraindications: &[
        Contraindication::Pregnant,
        Contraindication::Breastfeeding,
        Contraindication::AutoimmuneCondition,
        Contraindication::ActiveInfectionAtSite,
    ],
    from_price_pence: None,
    display_order: 1,
}];

pub const FAQS: &[SeedFaq] = &[
    // --- About facial asymmetry ---
    SeedFaq {
        question: "What is facial asymmetry?",
        answer: "Facial asymmetry simply means that the left and right sides of the face \
do not quite match. A small amount is entirely normal, and almost nobody has a perfectly \
even face. For some people, though, the difference is more pronounced and can affect how \
they feel about their appearance. It may involve the position of features, the shape of \
the jaw or cheeks, or the way the muscles move when you talk or smile.",
        topic: "about_asymmetry",
        treatment_slug: None,
        position: 1,
    },
    SeedFaq {
        question: "Can facial asymmetry be present from birth or develop over time?",
        answer: "Yes, both are possible. Some people are born with it, for instance as part \
of a craniofacial syndrome or in connection with a cleft lip and palate. Others develop it \
gradually through everyday habits, such as chewing mainly on one side, always sleeping on \
the same side, or repeatedly making the same facial expressions. Over the years these \
habits can cause muscles to strengthen or volume to shift unevenly.",
        topic: "about_asymmetry",
        treatment_slug: None,
        position: 2,
    },
    SeedFaq {
        question: "Can injury, dental problems or illness cause facial asymmetry?",
        answer: "They can. Trauma to the face, whether from an accident, a fall, surgery or a \
cosmetic procedure that did not go to plan, may leave one side looking different from the \
other. Dental causes include teeth or a jaw that are out of alignment and dental work that \
has left the bite uneven. Medical conditions such as Bell's palsy or a stroke can weaken \
the muscles on one side of the face, which often shows as asymmetry.",
        topic: "about_asymmetry",
        treatment_slug: None,
        position: 3,
    },
    SeedFaq {
        question: "Does a symmetrical face really matter?",
        answer: "Research has found that people tend to rate more symmetrical faces as more \
attractive. At {clinic_name} we also believe that beauty has many dimensions and that your \
individual features are part of what makes you who you are. Our aim is never to make \
everyone look the same, but to help you feel more at ease with your face if an imbalance \
bothers you.",
        topic: "about_asymmetry",
        treatment_slug: None,
        position: 4,
    },
    // --- The treatment ---
    SeedFaq {
        question: "How is facial asymmetry treated at {clinic_name}?",
        answer: "We use two kinds of injectable treatment: neuromodulators, which relax \
chosen muscles, and dermal fillers, which restore or add volume. Depending on the cause \
of your asymmetry, your practitioner may recommend one of them or a combination of both. \
Your plan is tailored to your face after a thorough assessment at your consultation.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 5,
    },
    SeedFaq {
        question: "How do neuromodulators help with asymmetry?",
        answer: "Neuromodulators are botulinum-toxin based medicines that temporarily relax \
the muscles they are injected into. When muscles on one side of the face are stronger or \
more active than on the other, this imbalance can pull features out of line. Relaxing \
selected muscles lets the two sides move and rest more evenly, reducing the asymmetry \
that the muscle imbalance causes.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 6,
    },
    SeedFaq {
        question: "How do dermal fillers help with asymmetry?",
        answer: "Dermal fillers are injected beneath the skin to add volume where it is \
lacking. They can fill hollows and smooth out contours that are uneven, helping one side \
of the face match the other more closely. Different fillers suit different areas, and \
your practitioner will explain which would be appropriate for you.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 7,
    },
    SeedFaq {
        question: "Will I have neuromodulators, fillers or both?",
        answer: "That depends on what is causing your asymmetry. Where muscle imbalance is \
the main issue, a neuromodulator may be enough, while uneven volume or contours are often \
better suited to filler. Many people benefit from the two used together. Your \
practitioner will recommend the approach that fits your face once they have assessed you.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 8,
    },
    SeedFaq {
        question: "How long does a treatment session take?",
        answer: "A treatment session usually lasts between 30 and 45 minutes. The exact time \
depends on how many areas are being treated and how marked the asymmetry is. Your \
assessment and treatment planning take place at your consultation, before the treatment \
session itself.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 9,
    },
    SeedFaq {
        question: "Does the treatment hurt?",
        answer: "Most people find it quite manageable. Before any injections are given, a \
topical anaesthetic cream is applied to numb the area. You may still notice a brief \
scratch or a feeling of pressure, and your practitioner will check how you are \
throughout.",
        topic: "treatment",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 10,
    },
    // --- Results ---
    SeedFaq {
        question: "When will I see results?",
        answer: "It depends on the type of injectable. Neuromodulators take effect \
gradually, and you should notice a change within a few days, with the full result usually \
visible within about a week. Fillers make a visible difference straight away, and the \
result continues to improve over the following days as any swelling goes down.",
        topic: "results",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 11,
    },
    SeedFaq {
        question: "How long do the results last?",
        answer: "Neuromodulators typically last between three and six months, after which \
the muscles gradually return to how they were and the treatment can be repeated if you \
wish. Dermal fillers last longer, anywhere from around six months to five years, \
depending on the product used and the area treated. Your practitioner can give you a \
better idea of what to expect for your own treatment plan.",
        topic: "results",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 12,
    },
    SeedFaq {
        question: "Will my face be completely symmetrical afterwards?",
        answer: "Treatment can make a significant improvement to facial balance, but it may \
not remove every asymmetry. Results vary from person to person, depending on factors such \
as the cause of the asymmetry and how your face responds. At your consultation your \
practitioner will give you a personal assessment of what can realistically be achieved.",
        topic: "results",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 13,
    },
    // --- Safety ---
    SeedFaq {
        question: "Are there any side effects?",
        answer: "Side effects are usually mild. The most common are redness, swelling or \
bruising where the injections were given, and these generally clear up within a few days. \
As with any medical treatment there are risks, and your practitioner will go through them \
with you at your consultation so that you can make an informed decision.",
        topic: "safety",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 14,
    },
    // --- Eligibility ---
    SeedFaq {
        question: "Is there anyone who cannot have this treatment?",
        answer: "Yes. For safety reasons we are unable to treat you if you are pregnant or \
breastfeeding, if you have an autoimmune condition, or if you have an active infection in \
the area to be injected. If any of these applies to you, we will not be able to go ahead; \
if your circumstances change, for example once you have stopped breastfeeding, you are \
welcome to book then.",
        topic: "eligibility",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 15,
    },
    SeedFaq {
        question: "I have another medical condition. Can I still book?",
        answer: "Yes. Other health conditions do not stop you from booking a \
consultation, but please mention them when you answer the screening questions. Your \
practitioner will review them carefully at your consultation and consider whether \
treatment is suitable for you.",
        topic: "eligibility",
        treatment_slug: Some(FACIAL_ASYMMETRY),
        position: 16,
    },
    SeedFaq {
        question: "Is there a minimum age for treatment?",
        answer: "Yes, you must be at least {minimum_age} years old. Under the Botulinum \
Toxin and Cosmetic Fillers (Children) Act 2021, it is a criminal offence in England to \
give botulinum toxin or fillers for cosmetic reasons to anyone under that age. We check \
your age from your date of birth as it will be on the day of your appointment, not on the \
day you book.",
        topic: "eligibility",
        treatment_slug: None,
        position: 17,
    },
    // --- Booking ---
    SeedFaq {
        question: "What happens at the consultation?",
        answer: "The consultation is your chance to talk through your concerns and what you \
would like to achieve. Your practitioner will assess your face, review your medical \
history, explain the possible risks and agree a treatment plan with you. They will also \
be honest about what treatment can and cannot do for you.",
        topic: "booking",
        treatment_slug: None,
        position: 18,
    },
    SeedFaq {
        question: "Why do I need to pay a deposit?",
        answer: "A deposit of {deposit} is taken when you book your consultation to secure \
your appointment. It is not a fee: it is held as credit and can be put towards any \
treatment you go on to have with us. Depending on what happens with your appointment, it \
is either redeemed against treatment, refunded, or forfeited under our cancellation \
policy.",
        topic: "booking",
        treatment_slug: None,
        position: 19,
    },
    SeedFaq {
        question: "Can I get my deposit back if I cancel?",
        answer: "Yes, if you cancel at least {cancellation_notice_hours} hours before your \
appointment, your deposit will be refunded in full. It will also be refunded if \
{clinic_name} has to cancel your appointment. If you cancel with less notice than this, \
or do not attend, the deposit is forfeited.",
        topic: "booking",
        treatment_slug: None,
        position: 20,
    },
    SeedFaq {
        question: "How do I book an appointment?",
        answer: "You can book online in a few steps. First, answer a few short screening \
questions, including your date of birth, so we can check that treatment may be suitable \
for you. Then choose an available consultation slot and pay the {deposit} deposit to \
confirm your booking.",
        topic: "booking",
        treatment_slug: None,
        position: 21,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const ALLOWED_PLACEHOLDERS: &[&str] = &[
        "clinic_name",
        "deposit",
        "minimum_age",
        "cancellation_notice_hours",
    ];

    const ALLOWED_TOPICS: &[&str] = &[
        "about_asymmetry",
        "treatment",
        "results",
        "safety",
        "eligibility",
        "booking",
    ];

    /// Every piece of user-facing text in the seed content, with a label for
    /// error messages.
    fn all_texts() -> Vec<(String, &'static str)> {
        let mut texts = Vec::new();
        for t in TREATMENTS {
            texts.push((format!("{} name", t.slug), t.name));
            texts.push((format!("{} summary", t.slug), t.summary));
            texts.push((format!("{} description", t.slug), t.description));
            texts.push((format!("{} anaesthetic", t.slug), t.anaesthetic));
            for (_, onset) in t.results_onset {
                texts.push((format!("{} results_onset", t.slug), *onset));
            }
            for s in t.side_effects {
                texts.push((format!("{} side_effects", t.slug), *s));
            }
        }
        for f in FAQS {
            texts.push((format!("FAQ {} question", f.position), f.question));
            texts.push((format!("FAQ {} answer", f.position), f.answer));
        }
        texts
    }

    /// Returns the placeholder names found in `text`, or an error describing
    /// an unbalanced brace.
    fn placeholders(text: &str) -> Result<Vec<&str>, String> {
        let mut found = Vec::new();
        let mut rest = text;
        loop {
            let open = rest.find('{');
            let close = rest.find('}');
            match (open, close) {
                (None, None) => return Ok(found),
                (Some(o), Some(c)) if o < c => {
                    let name = &rest[o + 1..c];
                    if name.contains('{') {
                        return Err(format!("nested brace in {:?}", name));
                    }
                    found.push(name);
                    rest = &rest[c + 1..];
                }
                _ => return Err("unbalanced brace".to_string()),
            }
        }
    }

    #[test]
    fn treatment_slugs_are_unique() {
        let mut seen = HashSet::new();
        for t in TREATMENTS {
            assert!(seen.insert(t.slug), "duplicate treatment slug {}", t.slug);
        }
    }

    #[test]
    fn treatment_display_orders_are_unique() {
        let mut seen = HashSet::new();
        for t in TREATMENTS {
            assert!(
                seen.insert(t.display_order),
                "duplicate display_order {}",
                t.display_order
            );
        }
    }

    #[test]
    fn faq_positions_are_unique_and_start_at_one() {
        let mut positions: Vec<i32> = FAQS.iter().map(|f| f.position).collect();
        positions.sort_unstable();
        let expected: Vec<i32> = (1..=FAQS.len() as i32).collect();
        assert_eq!(positions, expected, "FAQ positions must be 1..=n, unique");
    }

    #[test]
    fn faq_treatment_slugs_refer_to_known_treatments() {
        let slugs: HashSet<&str> = TREATMENTS.iter().map(|t| t.slug).collect();
        for f in FAQS {
            if let Some(slug) = f.treatment_slug {
                assert!(
                    slugs.contains(slug),
                    "FAQ {} refers to unknown treatment {}",
                    f.position,
                    slug
                );
            }
        }
    }

    #[test]
    fn faq_topics_are_known() {
        for f in FAQS {
            assert!(
                ALLOWED_TOPICS.contains(&f.topic),
                "FAQ {} has unknown topic {}",
                f.position,
                f.topic
            );
        }
    }

    #[test]
    fn there_are_at_least_fourteen_faqs() {
        assert!(FAQS.len() >= 14, "only {} FAQs", FAQS.len());
    }

    #[test]
    fn only_allowed_placeholders_are_used() {
        for (label, text) in all_texts() {
            let names = placeholders(text).unwrap_or_else(|e| panic!("{}: {}", label, e));
            for name in names {
                assert!(
                    ALLOWED_PLACEHOLDERS.contains(&name),
                    "{} uses unknown placeholder {{{}}}",
                    label,
                    name
                );
            }
        }
    }

    #[test]
    fn configurable_values_are_not_hard_coded() {
        for (label, text) in all_texts() {
            for literal in ["£25", "18", "48", "£"] {
                assert!(
                    !text.contains(literal),
                    "{} contains hard-coded {:?}; use a placeholder",
                    label,
                    literal
                );
            }
        }
    }

    #[test]
    fn facial_asymmetry_treatment_matches_the_facts() {
        let t = TREATMENTS
            .iter()
            .find(|t| t.slug == "facial-asymmetry-correction")
            .expect("facial asymmetry treatment present");
        assert_eq!(t.injectables.len(), 2);
        assert_eq!(t.session_minutes, (30, 45));
        let durations: Vec<(u16, u16)> = t
            .effect_duration_months
            .iter()
            .map(|&(_, lo, hi)| (lo, hi))
            .collect();
        assert_eq!(durations, vec![(3, 6), (6, 60)]);
        assert_eq!(t.results_onset.len(), 2);
        assert_eq!(t.contraindications.len(), 4);
        assert!(t.from_price_pence.is_none());
        assert_eq!(t.display_order, 1);
        assert!(t.description.contains("\n\n"));
    }
}
