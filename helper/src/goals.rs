//! How a torrent's own seed goal travels (in `set_goals` and in the download list): `null`
//! follows the global setting, `"unlimited"` lifts it, a number is the torrent's own.

use protocol::Goal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S: Serializer, T: Serialize>(goal: &Goal<T>, s: S) -> Result<S::Ok, S::Error> {
    match goal {
        Goal::Follow => s.serialize_none(),
        Goal::Unlimited => s.serialize_str("unlimited"),
        Goal::Value(v) => v.serialize(s),
    }
}

pub fn deserialize<'de, D, T>(d: D) -> Result<Goal<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<T> {
        Word(String),
        Value(T),
    }
    match Option::<Raw<T>>::deserialize(d)? {
        None => Ok(Goal::Follow),
        Some(Raw::Word(w)) if w == "unlimited" => Ok(Goal::Unlimited),
        Some(Raw::Word(w)) => Err(serde::de::Error::custom(format!(
            "a seed goal is a number, \"unlimited\" or null, not {w:?}"
        ))),
        Some(Raw::Value(v)) => Ok(Goal::Value(v)),
    }
}

/// For a field that may be left out (`Option` outside: absent = unchanged; `null` = follow).
pub fn present<'de, D, T>(d: D) -> Result<Option<Goal<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserialize(d).map(Some)
}

/// What applies, as replies show it: the limit, or `"unlimited"` when there is none.
pub fn applied<T: Serialize>(limit: Option<T>) -> serde_json::Value {
    match limit {
        Some(v) => serde_json::json!(v),
        None => serde_json::json!("unlimited"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Both {
        #[serde(default, with = "super")]
        ratio: Goal<f64>,
        #[serde(default, deserialize_with = "present", skip_serializing)]
        time: Option<Goal<u64>>,
    }

    #[test]
    fn null_follows_unlimited_lifts_a_number_overrides_and_absent_is_absent() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Both>(v);
        let b = parse(json!({"ratio": 2.5, "time": "unlimited"})).unwrap();
        assert_eq!((b.ratio, b.time), (Goal::Value(2.5), Some(Goal::Unlimited)));
        let b = parse(json!({"ratio": null, "time": null})).unwrap();
        assert_eq!((b.ratio, b.time), (Goal::Follow, Some(Goal::Follow)));
        let b = parse(json!({})).unwrap();
        assert_eq!((b.ratio, b.time), (Goal::Follow, None));
        assert!(parse(json!({"ratio": "forever"})).is_err());
        assert!(parse(json!({"time": -1})).is_err());
        for (goal, wire) in [
            (Goal::Follow, json!(null)),
            (Goal::Unlimited, json!("unlimited")),
            (Goal::Value(1.5), json!(1.5)),
        ] {
            let b = Both {
                ratio: goal,
                time: None,
            };
            assert_eq!(serde_json::to_value(&b).unwrap(), json!({"ratio": wire}));
        }
    }
}
