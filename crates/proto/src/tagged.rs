//! Reading internally tagged messages (`{"type": "output", …}`) without buffering them.
//!
//! serde's derived form of an internally tagged enum cannot know the variant before it has
//! seen the tag, so it first copies the whole object into a buffer of its own and then reads
//! the variant from that copy: a 5 KB `output` frame took 26 µs to read that way and 12 µs read
//! straight (`cargo run --release -p cr --example frame_cost`). Every message this crate
//! writes puts its tag first, as serde's derived `Serialize` does, so [`TaggedVisitor`] reads
//! the tag and then the variant's fields in place. A message with its tag elsewhere (written
//! by hand, say) is still read correctly, through a `serde_json::Value`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// An enum read from an object whose `TAG` field names the variant.
pub(crate) trait Tagged: Sized {
    /// The field naming the variant.
    const TAG: &'static str;
    /// What the expected object is, for error messages.
    const WHAT: &'static str;
    /// The variant names (deriving `Deserialize` gives the error for an unknown one).
    type Kind: DeserializeOwned;
    /// Reads the variant's fields (all but the tag) from `fields`, refusing unknown ones.
    fn fields<'de, D: Deserializer<'de>>(kind: Self::Kind, fields: D) -> Result<Self, D::Error>;
}

/// Visits the object of a [`Tagged`] enum; use with `deserialize_map`.
pub(crate) struct TaggedVisitor<T>(PhantomData<T>);

impl<T> TaggedVisitor<T> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let first = map.next_key_seed(KeySeed(T::TAG))?;
        let first = match first {
            None => return Err(de::Error::missing_field(T::TAG)),
            Some(None) => {
                let kind = map.next_value::<T::Kind>()?;
                return T::fields(kind, MapAccessDeserializer::new(map));
            }
            Some(Some(name)) => name,
        };
        // The tag is not first: gather the object, then read it.
        let mut object = serde_json::Map::new();
        object.insert(first, map.next_value()?);
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(name, value);
        }
        let tag = object.remove(T::TAG).ok_or_else(|| de::Error::missing_field(T::TAG))?;
        let kind = T::Kind::deserialize(tag).map_err(de::Error::custom)?;
        T::fields(kind, serde_json::Value::Object(object)).map_err(de::Error::custom)
    }
}

/// Reads a key: `None` for the tag, the key itself for any other.
struct KeySeed(&'static str);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok((key != self.0).then(|| key.to_owned()))
    }
}
