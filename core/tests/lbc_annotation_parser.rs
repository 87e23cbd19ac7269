//! The AWS Load Balancer Controller's annotation parser tests (`pkg/annotations/parser_test.go`,
//! kubernetes-sigs/aws-load-balancer-controller@225f44568848eb25f13e304a5f1cc68c0cd9415d),
//! ported for the value syntax both share: comma-separated lists
//! (`Test_serviceAnnotationParser_ParseStringSliceAnnotation`) and `key=value` maps
//! (`Test_serviceAnnotationParser_ParseStringMapAnnotation`), each input with LBC's expected
//! value. Not ported: the prefix and alternative-prefix lookups of `ParseStringAnnotation` (this
//! operator reads fixed keys under LBC's two prefixes), and `ParseInt64Annotation` (every
//! number here is read with its own range, tested with its annotation).
use std::collections::BTreeMap;

use aws_lb_operator_core::translate::annotations::{parse_list, parse_map};

/// A parsed map annotation.
type Map = BTreeMap<String, String>;

#[test]
fn string_slice_cases() {
    // (LBC case name, input, LBC's value). LBC returns an empty list for a value with no item;
    // here that is `None` (the annotation's error), the one listed difference.
    let cases: [(&str, &str, Option<&[&str]>); 3] = [
        ("empty value", "\t,  ,,,,,", None),
        ("single value", "abc,", Some(&["abc"])),
        (
            "multiple values",
            "ab  c, de  \t, test, ,\t\t\t123   \t\t, \"ooo, 1,,,, 3",
            Some(&["ab  c", "de", "test", "123", "\"ooo", "1", "3"]),
        ),
    ];
    for (name, input, want) in cases {
        let got = parse_list(input);
        let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(got, want, "{name}: {input:?}");
    }
}

#[test]
fn string_map_cases() {
    let map = |pairs: &[(&str, &str)]| -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let cases: [(&str, &str, Option<Map>); 5] = [
        (
            "multiple keys",
            "key1=value1, key2=value2, key3/with-slash=value3, key4/empty-value=",
            Some(map(&[
                ("key1", "value1"),
                ("key2", "value2"),
                ("key3/with-slash", "value3"),
                ("key4/empty-value", ""),
            ])),
        ),
        (
            "multiple values",
            "key1=value1\\,valueOne, key2= value2, key3/with-slash=value3\\,valueThree, key4/empty-value=",
            Some(map(&[
                ("key1", "value1,valueOne"),
                ("key2", "value2"),
                ("key3/with-slash", "value3,valueThree"),
                ("key4/empty-value", ""),
            ])),
        ),
        (
            "values containing equals sign",
            "key1=Mjk5NzkyNDU4Cg==, foo=ZGF=0=ZQo=, res=value_:/=+-@",
            Some(map(&[
                ("key1", "Mjk5NzkyNDU4Cg=="),
                ("foo", "ZGF=0=ZQo="),
                ("res", "value_:/=+-@"),
            ])),
        ),
        ("invalid key-value pair - no '=' between k/v", "key1,key2", None),
        ("invalid key-value pair - emptyKey", "=value", None),
    ];
    for (name, input, want) in cases {
        assert_eq!(parse_map(input), want, "{name}: {input:?}");
    }
}

/// The escaping rules of LBC's `splitKeyValuePairs` beyond its test table: a comma splits only
/// when an `=` follows, and a trailing comma stays in the value.
#[test]
fn key_value_splitting_follows_lbc() {
    let one = |k: &str, v: &str| Some(BTreeMap::from([(k.to_owned(), v.to_owned())]));
    assert_eq!(parse_map("k=a,b"), None, "b is a pair without '='");
    assert_eq!(parse_map("k=v,"), one("k", "v,"));
    assert_eq!(parse_map("k=a\\=b"), one("k", "a=b"));
    assert_eq!(parse_map("k=v\\"), one("k", "v\\"));
}
