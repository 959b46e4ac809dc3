//! What one annotation says, before anything is resolved across files.

use crate::diagnostic::Span;
use crate::model::{Attributes, Source};

pub(super) use crate::model::DataClass;

/// The tags. Relation tags also accept their singular form (`@mitigate`), as in Threatspec.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Tag {
    Component,
    Threat,
    Control,
    Boundary,
    Actor,
    Mitigates,
    Exposes,
    Accepts,
    Transfers,
    Connects,
    Review,
    Tests,
    Dismisses,
    // GuardLink's verbs (GAL, see gal.rs): read only in GAL's syntax.
    Asset,
    Flows,
    Confirmed,
    Entitles,
    Validates,
    Audit,
    Owns,
    Handles,
    Assumes,
    Feature,
    Comment,
    Shield,
    Source,
}

impl Tag {
    /// Canonical spelling, then accepted alternatives.
    pub const SPELLINGS: &'static [(&'static str, Tag)] = &[
        ("component", Tag::Component),
        ("threat", Tag::Threat),
        ("control", Tag::Control),
        ("boundary", Tag::Boundary),
        ("actor", Tag::Actor),
        ("mitigates", Tag::Mitigates),
        ("mitigate", Tag::Mitigates),
        ("exposes", Tag::Exposes),
        ("expose", Tag::Exposes),
        ("accepts", Tag::Accepts),
        ("accept", Tag::Accepts),
        ("transfers", Tag::Transfers),
        ("transfer", Tag::Transfers),
        ("connects", Tag::Connects),
        ("connect", Tag::Connects),
        ("review", Tag::Review),
        ("reviews", Tag::Review),
        ("tests", Tag::Tests),
        ("test", Tag::Tests),
        ("dismisses", Tag::Dismisses),
        ("dismiss", Tag::Dismisses),
        ("asset", Tag::Asset),
        ("flows", Tag::Flows),
        ("confirmed", Tag::Confirmed),
        ("entitles", Tag::Entitles),
        ("validates", Tag::Validates),
        ("audit", Tag::Audit),
        ("owns", Tag::Owns),
        ("handles", Tag::Handles),
        ("assumes", Tag::Assumes),
        ("feature", Tag::Feature),
        ("comment", Tag::Comment),
        ("shield", Tag::Shield),
        ("source", Tag::Source),
    ];

    /// Tags are case-sensitive, as in Threatspec: `@Component` is a Java annotation, not ours.
    pub fn from_word(word: &str) -> Option<Tag> {
        Tag::SPELLINGS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, t)| *t)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Component => "component",
            Tag::Threat => "threat",
            Tag::Control => "control",
            Tag::Boundary => "boundary",
            Tag::Actor => "actor",
            Tag::Mitigates => "mitigates",
            Tag::Exposes => "exposes",
            Tag::Accepts => "accepts",
            Tag::Transfers => "transfers",
            Tag::Connects => "connects",
            Tag::Review => "review",
            Tag::Tests => "tests",
            Tag::Dismisses => "dismisses",
            Tag::Asset => "asset",
            Tag::Flows => "flows",
            Tag::Confirmed => "confirmed",
            Tag::Entitles => "entitles",
            Tag::Validates => "validates",
            Tag::Audit => "audit",
            Tag::Owns => "owns",
            Tag::Handles => "handles",
            Tag::Assumes => "assumes",
            Tag::Feature => "feature",
            Tag::Comment => "comment",
            Tag::Shield => "shield",
            Tag::Source => "source",
        }
    }

    /// GuardLink's verbs, which only its syntax reads (gal.rs).
    pub fn is_gal(self) -> bool {
        self >= Tag::Asset
    }
}

/// The kinds of things a name can refer to; each has its own id namespace, as in Threatspec.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    Component,
    Boundary,
    Actor,
    Threat,
    Control,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Component => "component",
            Kind::Boundary => "boundary",
            Kind::Actor => "actor",
            Kind::Threat => "threat",
            Kind::Control => "control",
        }
    }
}

/// A mention of an entity: `Name`, `Name (#id)` or a bare `#id` reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntityRef {
    /// `None` for a bare `#id` reference.
    pub name: Option<String>,
    /// Explicit or derived id, without `#`.
    pub id: String,
    /// The id was written out (`(#id)` or `#id`) rather than derived from the name.
    pub explicit_id: bool,
    pub span: Span,
}

impl EntityRef {
    pub fn is_reference(&self) -> bool {
        self.name.is_none()
    }
}

/// The parts of an annotation, by tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Body {
    /// `@component`, `@threat`, `@control`, `@actor`; `within` is `in #boundary`.
    Declare {
        kind: Kind,
        target: EntityRef,
        within: Option<EntityRef>,
    },
    /// `@boundary Name (#id) [in #parent] [contains #a, #b]`
    Boundary {
        target: EntityRef,
        within: Option<EntityRef>,
        contains: Vec<EntityRef>,
    },
    Mitigates {
        component: EntityRef,
        threat: EntityRef,
        control: EntityRef,
    },
    Exposes {
        component: EntityRef,
        threat: EntityRef,
        details: String,
    },
    Accepts {
        threat: EntityRef,
        component: EntityRef,
        details: String,
    },
    Transfers {
        threat: EntityRef,
        from: EntityRef,
        to: EntityRef,
        details: String,
    },
    Connects {
        source: EntityRef,
        target: EntityRef,
        bidirectional: bool,
        details: String,
    },
    Review {
        component: EntityRef,
        details: String,
    },
    Tests {
        control: EntityRef,
        component: EntityRef,
    },
    /// `@dismisses RULE on ELEMENT with REASON`: a suggestion of the threat library
    /// (`threatmark suggest`) considered and not followed. `on` is a component or flow id
    /// (without `#`) or `*`.
    Dismisses {
        rule: String,
        on: String,
        reason: String,
    },
    /// GAL `@confirmed THREAT on ASSET`: an exposure verified to be exploitable.
    Confirmed {
        threat: EntityRef,
        component: EntityRef,
    },
    /// GAL `@entitles ACTOR to capability [on ASSET] [against THREAT]`.
    Entitles {
        actor: EntityRef,
        capability: String,
        component: Option<EntityRef>,
        threat: Option<EntityRef>,
    },
    /// GAL `@boundary between A and B (#id)`: A and B are in different trust zones.
    Between {
        target: EntityRef,
        a: EntityRef,
        b: EntityRef,
    },
    /// GAL `@owns team for ASSET`.
    Owns { owner: String, component: EntityRef },
    /// GAL `@handles pii on ASSET`: the data the component handles.
    Handles {
        class: crate::model::DataClass,
        component: EntityRef,
    },
    /// GAL `@assumes ASSET -- "what is assumed"`.
    Assumes { component: EntityRef },
    /// GAL `@feature "Name"`.
    Feature { name: String },
}

/// One parsed annotation with its location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Annotation {
    pub tag: Tag,
    pub body: Body,
    pub attributes: Attributes,
    pub description: String,
    /// Where the tag starts; `source.annotation` is the text from the tag to the end of the line.
    pub source: Source,
    /// Byte span of the annotation's first line in the file.
    pub span: Span,
    /// Written in GuardLink's dialect (gal.rs): its `-- "..."` text is per place, so the
    /// descriptions of one relation written in several places are joined, not in conflict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gal: bool,
}
