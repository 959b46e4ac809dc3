//! The model's JSON written fast: the bytes of `serde_json::to_string_pretty` (two spaces a
//! level, `"key": value`, `[]` and `{}` when empty), from a serializer of our own.
//!
//! Why: writing threatmodel.json is most of what a scan does after the walk on a large model
//! (6 MB for 50,000 files), and serde_json spends it looking at every byte of every string one
//! at a time for a character to escape, and in a call per indentation and punctuation mark.
//! Here a string is searched eight bytes at a time and written in one piece when nothing in it
//! needs escaping (nearly always). Only the shapes the model has are written here; anything
//! else (a map key that is not a string, a float) is an error, and [`pretty`]'s caller falls
//! back to serde_json, so the output never depends on which path wrote it.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// `value` as `serde_json::to_string_pretty` writes it, or `None` for a shape this writer
/// leaves to serde_json. `capacity` is a guess of the length (the buffer grows past it).
pub(crate) fn pretty<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Option<String> {
    let mut writer = Pretty {
        out: String::with_capacity(capacity),
        depth: 0,
        has_value: false,
    };
    value.serialize(&mut writer).ok()?;
    Some(writer.out)
}

/// A shape [`pretty`] does not write.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value the fast JSON writer leaves to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Unsupported
    }
}

/// Methods of a serializer that refuse a scalar (a map key that is not a string).
macro_rules! refuse {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result {
            Err(Unsupported)
        })*
    };
}

struct Pretty {
    out: String,
    /// Open arrays and objects.
    depth: usize,
    /// Whether the innermost open array or object has a value yet.
    has_value: bool,
}

/// A line break and the indentation of 32 levels: a break and the indentation of any level up
/// to that are one copy of a prefix.
const BREAK: &str = "\n                                                                ";

impl Pretty {
    /// A line break and the indentation of the current depth.
    fn line_break(&mut self) {
        let width = self.depth * 2;
        if width < BREAK.len() {
            self.out.push_str(&BREAK[..=width]);
            return;
        }
        self.out.push('\n');
        let mut left = width;
        while left > 0 {
            let n = left.min(BREAK.len() - 1);
            self.out.push_str(&BREAK[1..=n]);
            left -= n;
        }
    }

    fn open(&mut self, bracket: char) {
        self.depth += 1;
        self.has_value = false;
        self.out.push(bracket);
    }

    fn close(&mut self, bracket: char) {
        self.depth -= 1;
        if self.has_value {
            self.line_break();
        }
        self.out.push(bracket);
        // The array or object just closed is a value of the one around it.
        self.has_value = true;
    }

    /// Before an element of an array or a key of an object.
    fn item(&mut self, first: bool) {
        if !first {
            self.out.push(',');
        }
        self.line_break();
    }

    fn string(&mut self, s: &str) {
        self.out.reserve(s.len() + 2);
        self.out.push('"');
        if any_to_escape(s.as_bytes()) {
            self.escaped(s);
        } else {
            self.out.push_str(s);
        }
        self.out.push('"');
    }

    /// The body of a string that has something to escape (rare: a quote in a description).
    fn escaped(&mut self, s: &str) {
        let mut start = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..0x20 => "",
                _ => continue,
            };
            // Escapes are ASCII, so `start..i` ends on a character boundary.
            self.out.push_str(&s[start..i]);
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.out.push_str("\\u00");
                self.out.push(char::from(HEX[usize::from(b >> 4)]));
                self.out.push(char::from(HEX[usize::from(b & 0xf)]));
            } else {
                self.out.push_str(escape);
            }
            start = i + 1;
        }
        self.out.push_str(&s[start..]);
    }

    fn unsigned(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in &digits[at..] {
            self.out.push(char::from(d));
        }
    }

    fn signed(&mut self, v: i64) {
        if v < 0 {
            self.out.push('-');
        }
        self.unsigned(v.unsigned_abs());
    }
}

/// Does any byte of `bytes` need escaping? Eight bytes at a time; the last few padded with a
/// letter, which needs none.
fn any_to_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut word = [0u8; 8];
    for chunk in &mut chunks {
        word.copy_from_slice(chunk);
        if needs_escape(u64::from_le_bytes(word)) {
            return true;
        }
    }
    let rest = chunks.remainder();
    word = [b'a'; 8];
    word[..rest.len()].copy_from_slice(rest);
    needs_escape(u64::from_le_bytes(word))
}

/// Does any byte of `word` need escaping in a JSON string: a control character (below 0x20),
/// `"` or `\`? (The classic "has a zero byte" and "has a byte below n" tests, on eight bytes.)
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space
        | zero_in(word ^ (ONES * u64::from(b'"')))
        | zero_in(word ^ (ONES * u64::from(b'\\')))
        != 0
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

impl ser::Serializer for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.signed(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.unsigned(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.unsigned(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.unsigned(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.unsigned(v);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self> {
        self.open('[');
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        self.open('{');
        Ok(self)
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self> {
        // serde_json writes its raw values verbatim.
        if name.starts_with("$serde_json") {
            return Err(Unsupported);
        }
        self.open('{');
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        let first = !self.has_value;
        self.item(first);
        value.serialize(&mut **self)?;
        self.has_value = true;
        Ok(())
    }
    fn end(self) -> Result {
        self.close(']');
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        let first = !self.has_value;
        self.item(first);
        key.serialize(Key(self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.out.push_str(": ");
        value.serialize(&mut **self)?;
        self.has_value = true;
        Ok(())
    }
    fn end(self) -> Result {
        self.close('}');
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Pretty {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        // The key is a string: written directly, not through the map key's serializer.
        let first = !self.has_value;
        self.item(first);
        self.string(key);
        ser::SerializeMap::serialize_value(self, value)
    }
    fn end(self) -> Result {
        ser::SerializeMap::end(self)
    }
}

/// A map key: only strings (and what serialises as one) are written here.
struct Key<'a>(&'a mut Pretty);

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result {
        self.0.string(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.0.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.0.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    refuse!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_bytes: &[u8],
    );
    fn serialize_none(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn same_as_serde_json<T: Serialize + ?Sized>(value: &T) {
        let expected = serde_json::to_string_pretty(value).expect("serde_json");
        let ours = pretty(value, 0).expect("a shape the fast writer handles");
        assert_eq!(ours, expected);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        // Every ASCII byte at every position of strings up to 19 bytes long: both sides of
        // the eight-byte steps, and the bytes around the escaped ones.
        for b in 0..=0x7f_u8 {
            for len in 1..20 {
                for at in 0..len {
                    let mut s: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    s[at] = b;
                    let s = String::from_utf8(s).expect("ASCII");
                    same_as_serde_json(&s);
                }
            }
        }
        for s in [
            "",
            "é",
            "日本\u{1f}語\"",
            "\u{7f}\u{80}\u{2028}",
            "a\\b\\\\\"\"\n\r\t\u{8}\u{c}\0",
        ] {
            same_as_serde_json(s);
        }
    }

    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn text(state: &mut u64, n: u64) -> String {
        let pieces = [
            "a", "Ab", " ", "\"", "\\", "\n", "\u{1}", "é", "日", "-", "/", "0",
        ];
        (0..n)
            .map(|_| pieces[(next(state) % pieces.len() as u64) as usize])
            .collect()
    }

    /// A random JSON value (strings, integers, booleans, null, arrays, objects).
    fn random_value(state: &mut u64, depth: usize) -> Value {
        let kind = next(state) % if depth >= 4 { 5 } else { 7 };
        let shift = next(state) % 64;
        match kind {
            0 => Value::Null,
            1 => Value::Bool(next(state) % 2 == 0),
            2 => json!((next(state) as i64) >> shift),
            3 => json!(next(state) >> shift),
            4 => {
                let n = next(state) % 12;
                Value::String(text(state, n))
            }
            5 => {
                let n = next(state) % 4;
                Value::Array((0..n).map(|_| random_value(state, depth + 1)).collect())
            }
            _ => {
                let mut map = Map::new();
                for _ in 0..next(state) % 4 {
                    let n = next(state) % 5;
                    let key = text(state, n);
                    map.insert(key, random_value(state, depth + 1));
                }
                Value::Object(map)
            }
        }
    }

    #[test]
    fn random_values_are_written_as_serde_json_writes_them() {
        for seed in 1..3000_u64 {
            let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            same_as_serde_json(&random_value(&mut state, 0));
        }
        same_as_serde_json(&json!({"a": [], "b": {}, "c": [[], {}, [[1]], {"d": {}}], "e": -0}));
    }

    /// Nesting past the 32 levels that one copy of [`BREAK`] indents, and struct fields (whose
    /// keys are written directly), with a key that needs escaping.
    #[test]
    fn deep_values_and_struct_keys_are_written_as_serde_json_writes_them() {
        let mut value = json!(1);
        for depth in 0..70 {
            value = match depth % 2 {
                0 => json!([value, {}, []]),
                _ => json!({"k": value, "l": [1, 2]}),
            };
            same_as_serde_json(&value);
        }
        #[derive(Serialize)]
        struct Fields {
            plain: u8,
            #[serde(rename = "quote\"d \\ and\n")]
            odd: Vec<u8>,
            #[serde(rename = "")]
            empty: Option<Vec<Fields>>,
        }
        let inner = Fields {
            plain: 2,
            odd: Vec::new(),
            empty: None,
        };
        same_as_serde_json(&Fields {
            plain: 1,
            odd: vec![2, 3],
            empty: Some(vec![inner]),
        });
    }

    #[test]
    fn this_repository_s_model_is_written_as_serde_json_writes_it() {
        let text = include_str!("../../threatmodel.json");
        let model = crate::model::from_json(text).expect("threatmodel.json reads");
        same_as_serde_json(&model);
        assert_eq!(crate::model::to_json(&model), text);
    }

    #[test]
    fn shapes_left_to_serde_json_are_refused() {
        assert!(pretty(&1.5_f64, 0).is_none());
        assert!(pretty(&std::collections::BTreeMap::from([(1, 2)]), 0).is_none());
    }
}
