//! Staff edits of the public catalogue and the FAQ. Each is audited; the
//! unit of work drops the cached catalogue and FAQ answers after commit.

use serde_json::json;

use super::{App, AppError, Tx};
use crate::db::DbError;
use crate::store::faqs::{self, Faq, FaqFields, FaqFilter};
use crate::store::treatments::{self, Treatment, TreatmentFields};

const SLUG_TAKEN: &str = "A treatment with that slug exists.";

fn audit_treatment(
    tx: &mut Tx<'_>,
    actor: &str,
    action: &str,
    t: &Treatment,
) -> Result<(), DbError> {
    let after = json!({"slug": t.slug, "name": t.fields.name, "active": t.fields.active});
    tx.audit(actor, action, "treatment", &t.id, None, Some(after))
}

pub async fn create_treatment(
    app: &App,
    actor: &str,
    fields: TreatmentFields,
) -> Result<Treatment, AppError> {
    let actor = actor.to_owned();
    app.write(move |tx| {
        let t = treatments::insert(tx.conn, &fields, tx.now)
            .map_err(|e| AppError::conflict_on_unique(e, "slug_taken", SLUG_TAKEN))?;
        audit_treatment(tx, &actor, "treatment.created", &t)?;
        Ok(t)
    })
    .await
}

pub async fn replace_treatment(
    app: &App,
    actor: &str,
    slug: &str,
    fields: TreatmentFields,
) -> Result<Treatment, AppError> {
    let (actor, slug) = (actor.to_owned(), slug.to_owned());
    app.write(move |tx| {
        let t = treatments::replace(tx.conn, &slug, &fields, tx.now)
            .map_err(|e| AppError::conflict_on_unique(e, "slug_taken", SLUG_TAKEN))?
            .ok_or(AppError::NotFound("treatment"))?;
        audit_treatment(tx, &actor, "treatment.updated", &t)?;
        Ok(t)
    })
    .await
}

pub async fn archive_treatment(app: &App, actor: &str, slug: &str) -> Result<Treatment, AppError> {
    let (actor, slug) = (actor.to_owned(), slug.to_owned());
    app.write(move |tx| {
        let t = treatments::set_active(tx.conn, &slug, false, tx.now)?
            .ok_or(AppError::NotFound("treatment"))?;
        audit_treatment(tx, &actor, "treatment.archived", &t)?;
        Ok(t)
    })
    .await
}

/// An FAQ entry as staff write it, naming its treatment by slug.
#[derive(Debug, Clone)]
pub struct FaqDraft {
    pub question: String,
    pub answer: String,
    pub topic: String,
    pub treatment_slug: Option<String>,
    /// On create, `None` means after the last entry; on replace, keep.
    pub position: Option<i32>,
    pub published: bool,
}

/// Resolves the treatment slug of a draft to its id.
fn faq_fields(tx: &mut Tx<'_>, draft: FaqDraft) -> Result<FaqFields, AppError> {
    let treatment_id = match &draft.treatment_slug {
        Some(slug) => Some(
            treatments::by_slug(tx.conn, slug)?
                .ok_or_else(|| AppError::field("treatment_slug", "unknown", "names no treatment"))?
                .id,
        ),
        None => None,
    };
    Ok(FaqFields {
        question: draft.question,
        answer: draft.answer,
        topic: draft.topic,
        treatment_id,
        position: draft.position,
        published: draft.published,
    })
}

fn audit_faq(
    tx: &mut Tx<'_>,
    actor: &str,
    action: &str,
    id: &str,
    faq: Option<&Faq>,
) -> Result<(), DbError> {
    let after = faq.map(|f| {
        json!({"topic": f.topic, "position": f.position, "published": f.published, "treatment_slug": f.treatment_slug})
    });
    tx.audit(actor, action, "faq", id, None, after)
}

pub async fn create_faq(app: &App, actor: &str, draft: FaqDraft) -> Result<Faq, AppError> {
    let actor = actor.to_owned();
    app.write(move |tx| {
        let fields = faq_fields(tx, draft)?;
        let faq = faqs::insert(tx.conn, &fields, tx.now)?;
        audit_faq(tx, &actor, "faq.created", &faq.id, Some(&faq))?;
        Ok(faq)
    })
    .await
}

pub async fn replace_faq(
    app: &App,
    actor: &str,
    id: &str,
    draft: FaqDraft,
) -> Result<Faq, AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        let fields = faq_fields(tx, draft)?;
        let faq =
            faqs::replace(tx.conn, &id, &fields, tx.now)?.ok_or(AppError::NotFound("FAQ entry"))?;
        audit_faq(tx, &actor, "faq.updated", &faq.id, Some(&faq))?;
        Ok(faq)
    })
    .await
}

pub async fn delete_faq(app: &App, actor: &str, id: &str) -> Result<(), AppError> {
    let (actor, id) = (actor.to_owned(), id.to_owned());
    app.write(move |tx| {
        if !faqs::delete(tx.conn, &id)? {
            return Err(AppError::NotFound("FAQ entry"));
        }
        audit_faq(tx, &actor, "faq.deleted", &id, None)?;
        Ok(())
    })
    .await
}

/// Gives every entry a new position, in the order of `ids` (every FAQ id
/// exactly once); returns the first `page` entries in the new order.
pub async fn reorder_faqs(
    app: &App,
    actor: &str,
    ids: Vec<String>,
    page: i64,
) -> Result<Vec<Faq>, AppError> {
    let actor = actor.to_owned();
    app.write(move |tx| {
        let mut wanted = ids.clone();
        wanted.sort();
        if faqs::all_ids(tx.conn)? != wanted {
            return Err(AppError::field(
                "ids",
                "incomplete",
                "must list every FAQ id exactly once",
            ));
        }
        faqs::reorder(tx.conn, &ids, tx.now)?;
        tx.audit(
            &actor,
            "faq.reordered",
            "faq",
            "*",
            None,
            Some(json!({ "ids": ids })),
        )?;
        let filter = FaqFilter {
            include_unpublished: true,
            limit: page,
            ..FaqFilter::default()
        };
        Ok(faqs::list(tx.conn, &filter)?)
    })
    .await
}
