//! Deserializing a choice the way the config file writes it: a bare name for a choice
//! without settings (`cloud: sim`), a map with one key for one with settings
//! (`cloud: {aws: {region: …}}`). serde_norway's own enum form needs YAML tags (`!aws`).

/// Implements `Deserialize` for an enum: `units` are bare names, `data` single-key maps
/// whose value is read as the variant's type (errors keep their path, e.g.
/// `cloud.aws: unknown field`).
macro_rules! one_of {
    ($ty:ident, $expecting:literal, units: [$($unit:literal => $uv:ident),*], data: [$($key:literal => $dv:ident),*]) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($unit,)* $($key,)*];
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    #[allow(unused_variables)]
                    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<$ty, E> {
                        match name {
                            $($unit => Ok($ty::$uv),)*
                            _ if NAMES.contains(&name) => Err(E::custom(format!("`{name}` needs its settings: {}", $expecting))),
                            _ => Err(E::invalid_value(serde::de::Unexpected::Str(name), &self)),
                        }
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        let Some(key) = map.next_key::<String>()? else {
                            return Err(serde::de::Error::invalid_length(0, &self));
                        };
                        let value = match key.as_str() {
                            $($key => $ty::$dv(map.next_value()?),)*
                            other => return Err(serde::de::Error::unknown_variant(other, NAMES)),
                        };
                        if let Some(extra) = map.next_key::<String>()? {
                            return Err(serde::de::Error::custom(format!(
                                "`{key}` and `{extra}` given: choose one ({})", $expecting
                            )));
                        }
                        Ok(value)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

pub(crate) use one_of;
