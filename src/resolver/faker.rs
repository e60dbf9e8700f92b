//! `${faker.NAME}`: fake data named as Python Faker's (en_US) providers
//! are, drawn from the `fake` crate's English data.
//!
//! The name is matched exactly (case-sensitive, as `getattr(faker, NAME)`
//! is) when the template is parsed; a name that is not one of these stays
//! as written, as LoadDensity left a provider it could not call. Each
//! occurrence renders a fresh value, drawn from the session's random number
//! generator and written straight into the output: words, names and other
//! values picked from fixed lists are copied from static data, numbers are
//! formatted in place; only the providers that assemble text from a
//! template (`user_name`, `email`, `city`, `company`, `job`, ...) build it in
//! a temporary string first.
//!
//! Formats follow Faker's where they are simple (`uuid4`, `ipv4`, `ipv6`,
//! `date`, `iso8601`, `random_int` from 0 to 9999, `boolean` as `True` or
//! `False`, `str()` of a float for `unix_time`); the words and names come
//! from the `fake` crate's lists, not Faker's.

use std::convert::Infallible;
use std::fmt::Write as _;

use chrono::{Datelike as _, Timelike as _};
use fake::faker::{
    address::en as address, company::en as company, creditcard::en as creditcard,
    currency::en as currency, filesystem::en as filesystem, internet::en as internet,
    job::en as job, lorem::en as lorem, name::en as name, phone_number::en as phone,
};
use fake::Fake;

/// Declares [`Faker`] with its Python names, in one list.
macro_rules! providers {
    ($($variant:ident = $name:literal,)*) => {
        /// A Faker provider, by its Python name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Faker {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Faker {
            /// Every provider, in the order listed.
            #[cfg(test)]
            pub(super) const ALL: &'static [Faker] = &[$(Faker::$variant,)*];

            /// The provider named `name` exactly, or `None`.
            pub(super) fn parse(name: &str) -> Option<Faker> {
                match name {
                    $($name => Some(Faker::$variant),)*
                    _ => None,
                }
            }

            /// Its Python name.
            #[cfg(test)]
            pub(super) fn name(self) -> &'static str {
                match self {
                    $(Faker::$variant => $name,)*
                }
            }
        }
    };
}

providers! {
    // Person.
    Name = "name",
    FirstName = "first_name",
    LastName = "last_name",
    Prefix = "prefix",
    Suffix = "suffix",
    // Internet.
    Email = "email",
    SafeEmail = "safe_email",
    FreeEmail = "free_email",
    CompanyEmail = "company_email",
    FreeEmailDomain = "free_email_domain",
    UserName = "user_name",
    Password = "password",
    DomainName = "domain_name",
    DomainWord = "domain_word",
    Tld = "tld",
    Url = "url",
    Hostname = "hostname",
    Slug = "slug",
    Ipv4 = "ipv4",
    Ipv6 = "ipv6",
    MacAddress = "mac_address",
    UserAgent = "user_agent",
    HttpMethod = "http_method",
    PortNumber = "port_number",
    // Address.
    Address = "address",
    StreetAddress = "street_address",
    StreetName = "street_name",
    StreetSuffix = "street_suffix",
    BuildingNumber = "building_number",
    SecondaryAddress = "secondary_address",
    City = "city",
    CityPrefix = "city_prefix",
    CitySuffix = "city_suffix",
    State = "state",
    StateAbbr = "state_abbr",
    Zipcode = "zipcode",
    Postcode = "postcode",
    Country = "country",
    CountryCode = "country_code",
    Timezone = "timezone",
    Latitude = "latitude",
    Longitude = "longitude",
    // Company and work.
    Company = "company",
    CompanySuffix = "company_suffix",
    CatchPhrase = "catch_phrase",
    Bs = "bs",
    Job = "job",
    PhoneNumber = "phone_number",
    // Text.
    Word = "word",
    Sentence = "sentence",
    Paragraph = "paragraph",
    Text = "text",
    // Numbers and codes.
    RandomInt = "random_int",
    RandomDigit = "random_digit",
    RandomLetter = "random_letter",
    Pyint = "pyint",
    Boolean = "boolean",
    Pybool = "pybool",
    Uuid4 = "uuid4",
    Md5 = "md5",
    Sha1 = "sha1",
    Sha256 = "sha256",
    HexColor = "hex_color",
    Ssn = "ssn",
    CreditCardNumber = "credit_card_number",
    CurrencyCode = "currency_code",
    CurrencyName = "currency_name",
    FileName = "file_name",
    FileExtension = "file_extension",
    MimeType = "mime_type",
    // Dates and times (UTC, from 1970 to now unless said).
    Date = "date",
    DateTime = "date_time",
    Iso8601 = "iso8601",
    Time = "time",
    Year = "year",
    Month = "month",
    MonthName = "month_name",
    DayOfMonth = "day_of_month",
    DayOfWeek = "day_of_week",
    AmPm = "am_pm",
    UnixTime = "unix_time",
    PastDate = "past_date",
    FutureDate = "future_date",
}

/// The session's generator as the `fake` crate's random number generator.
struct Rng<'a>(&'a mut fastrand::Rng);

impl fake::rand::TryRng for Rng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.u32(..))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.u64(..))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

/// Seconds in a day.
const DAY: i64 = 86_400;

const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];
const HOSTNAME_PREFIXES: &[&str] = &["db", "srv", "desktop", "laptop", "lt", "email", "web"];
const SAFE_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
const SECONDARY_ADDRESS_TYPES: &[&str] = &["Apt.", "Suite"];
const PASSWORD_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()_+";
const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Faker {
    /// Appends a fresh value to `out`.
    pub(super) fn render(self, rng: &mut fastrand::Rng, out: &mut String) {
        // `&'static str` picks from the `fake` crate's lists.
        macro_rules! pick {
            ($faker:expr) => {
                out.push_str($faker.fake_with_rng::<&'static str, _>(&mut Rng(rng)))
            };
        }
        // Values the `fake` crate assembles into a `String`.
        macro_rules! build {
            ($faker:expr) => {
                out.push_str(&$faker.fake_with_rng::<String, _>(&mut Rng(rng)))
            };
        }
        // Writing into a String cannot fail: `write!`'s results are ignored.
        match self {
            Faker::Name => {
                pick!(name::FirstName());
                out.push(' ');
                pick!(name::LastName());
            }
            Faker::FirstName => pick!(name::FirstName()),
            Faker::LastName => pick!(name::LastName()),
            Faker::Prefix => pick!(name::Title()),
            Faker::Suffix => pick!(name::Suffix()),
            Faker::Email | Faker::SafeEmail => {
                build!(internet::Username());
                out.push('@');
                out.push_str(choose(rng, SAFE_DOMAINS));
            }
            Faker::FreeEmail => build!(internet::FreeEmail()),
            Faker::CompanyEmail => {
                build!(internet::Username());
                out.push('@');
                domain_name(rng, out);
            }
            Faker::FreeEmailDomain => pick!(internet::FreeEmailProvider()),
            Faker::UserName => build!(internet::Username()),
            Faker::Password => {
                for _ in 0..10 {
                    out.push(char::from(
                        PASSWORD_CHARS[rng.usize(..PASSWORD_CHARS.len())],
                    ));
                }
            }
            Faker::DomainName => domain_name(rng, out),
            Faker::DomainWord => domain_word(rng, out),
            Faker::Tld => pick!(internet::DomainSuffix()),
            Faker::Url => {
                out.push_str(if rng.bool() { "https://" } else { "http://" });
                if rng.bool() {
                    out.push_str("www.");
                }
                domain_name(rng, out);
                out.push('/');
            }
            Faker::Hostname => {
                out.push_str(choose(rng, HOSTNAME_PREFIXES));
                let _ = write!(out, "-{:02}.", rng.u8(0..100));
                domain_name(rng, out);
            }
            Faker::Slug => {
                for i in 0..3 {
                    if i > 0 {
                        out.push('-');
                    }
                    pick!(lorem::Word());
                }
            }
            Faker::Ipv4 => {
                let _ = write!(out, "{}", std::net::Ipv4Addr::from(rng.u32(..)));
            }
            Faker::Ipv6 => {
                let _ = write!(out, "{}", std::net::Ipv6Addr::from(rng.u128(..)));
            }
            Faker::MacAddress => {
                for i in 0..6 {
                    if i > 0 {
                        out.push(':');
                    }
                    let _ = write!(out, "{:02x}", rng.u8(..));
                }
            }
            Faker::UserAgent => pick!(internet::UserAgent()),
            Faker::HttpMethod => out.push_str(choose(rng, HTTP_METHODS)),
            Faker::PortNumber => {
                let _ = write!(out, "{}", rng.u16(..));
            }
            Faker::Address => {
                street_address(rng, out);
                out.push('\n');
                build!(address::CityName());
                out.push_str(", ");
                pick!(address::StateAbbr());
                out.push(' ');
                zipcode(rng, out);
            }
            Faker::StreetAddress => street_address(rng, out),
            Faker::StreetName => street_name(rng, out),
            Faker::StreetSuffix => pick!(address::StreetSuffix()),
            Faker::BuildingNumber => building_number(rng, out),
            Faker::SecondaryAddress => {
                out.push_str(choose(rng, SECONDARY_ADDRESS_TYPES));
                let _ = write!(out, " {:03}", rng.u16(0..1000));
            }
            Faker::City => build!(address::CityName()),
            Faker::CityPrefix => pick!(address::CityPrefix()),
            Faker::CitySuffix => pick!(address::CitySuffix()),
            Faker::State => pick!(address::StateName()),
            Faker::StateAbbr => pick!(address::StateAbbr()),
            Faker::Zipcode | Faker::Postcode => zipcode(rng, out),
            Faker::Country => pick!(address::CountryName()),
            Faker::CountryCode => pick!(address::CountryCode()),
            Faker::Timezone => pick!(address::TimeZone()),
            Faker::Latitude => {
                let _ = write!(out, "{:.6}", rng.f64() * 180.0 - 90.0);
            }
            Faker::Longitude => {
                let _ = write!(out, "{:.6}", rng.f64() * 360.0 - 180.0);
            }
            Faker::Company => build!(company::CompanyName()),
            Faker::CompanySuffix => pick!(company::CompanySuffix()),
            Faker::CatchPhrase => build!(company::CatchPhrase()),
            Faker::Bs => build!(company::Bs()),
            Faker::Job => build!(job::Title()),
            Faker::PhoneNumber => build!(phone::PhoneNumber()),
            Faker::Word => pick!(lorem::Word()),
            Faker::Sentence => sentence(rng, out),
            Faker::Paragraph => {
                for i in 0..rng.usize(1..=4) {
                    if i > 0 {
                        out.push(' ');
                    }
                    sentence(rng, out);
                }
            }
            Faker::Text => {
                // Sentences while they fit in Faker's default 200 characters
                // (at least one).
                let start = out.len();
                loop {
                    let before = out.len();
                    if before > start {
                        out.push(' ');
                    }
                    sentence(rng, out);
                    if out[start..].chars().count() > 200 && before > start {
                        out.truncate(before);
                        break;
                    }
                }
            }
            Faker::RandomInt | Faker::Pyint => {
                let _ = write!(out, "{}", rng.u16(0..=9999));
            }
            Faker::RandomDigit => out.push(rng.digit(10)),
            Faker::RandomLetter => out.push(if rng.bool() {
                rng.lowercase()
            } else {
                rng.uppercase()
            }),
            Faker::Boolean | Faker::Pybool => {
                out.push_str(if rng.bool() { "True" } else { "False" });
            }
            Faker::Uuid4 => {
                let mut bytes = [0; 16];
                rng.fill(&mut bytes);
                let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
                out.push_str(
                    uuid.hyphenated()
                        .encode_lower(&mut uuid::Uuid::encode_buffer()),
                );
            }
            Faker::Md5 => hex(rng, 32, out),
            Faker::Sha1 => hex(rng, 40, out),
            Faker::Sha256 => hex(rng, 64, out),
            Faker::HexColor => {
                out.push('#');
                hex(rng, 6, out);
            }
            Faker::Ssn => {
                // Faker's en_US: no area 000, 666 or 900 and up, no group 00,
                // no serial 0000.
                let area = match rng.u16(1..899) {
                    666 => 665,
                    area => area,
                };
                let _ = write!(
                    out,
                    "{area:03}-{:02}-{:04}",
                    rng.u8(1..100),
                    rng.u16(1..10_000)
                );
            }
            Faker::CreditCardNumber => build!(creditcard::CreditCardNumber()),
            Faker::CurrencyCode => pick!(currency::CurrencyCode()),
            Faker::CurrencyName => pick!(currency::CurrencyName()),
            Faker::FileName => {
                pick!(lorem::Word());
                out.push('.');
                pick!(filesystem::FileExtension());
            }
            Faker::FileExtension => pick!(filesystem::FileExtension()),
            Faker::MimeType => build!(filesystem::MimeType()),
            Faker::Date => {
                let (date, _) = moment(rng, 0, now());
                push_date(out, date);
            }
            Faker::DateTime => {
                let (date, micros) = moment(rng, 0, now());
                push_date(out, date);
                out.push(' ');
                push_time(out, date, micros);
            }
            Faker::Iso8601 => {
                let (date, micros) = moment(rng, 0, now());
                push_date(out, date);
                out.push('T');
                push_time(out, date, micros);
            }
            Faker::Time => {
                let (date, _) = moment(rng, 0, now());
                let _ = write!(
                    out,
                    "{:02}:{:02}:{:02}",
                    date.hour(),
                    date.minute(),
                    date.second()
                );
            }
            Faker::Year => {
                let (date, _) = moment(rng, 0, now());
                let _ = write!(out, "{}", date.year());
            }
            Faker::Month => {
                let _ = write!(out, "{:02}", rng.u8(1..=12));
            }
            Faker::MonthName => out.push_str(choose(rng, MONTHS)),
            Faker::DayOfMonth => {
                let (date, _) = moment(rng, 0, now());
                let _ = write!(out, "{:02}", date.day());
            }
            Faker::DayOfWeek => out.push_str(choose(rng, WEEKDAYS)),
            Faker::AmPm => out.push_str(if rng.bool() { "AM" } else { "PM" }),
            Faker::UnixTime => {
                let seconds = rng.f64() * now() as f64;
                super::pystr::push_float(out, seconds);
            }
            Faker::PastDate => {
                let now = now();
                let (date, _) = moment(rng, now - 30 * DAY, now - DAY);
                push_date(out, date);
            }
            Faker::FutureDate => {
                let now = now();
                let (date, _) = moment(rng, now + DAY, now + 30 * DAY);
                push_date(out, date);
            }
        }
    }
}

/// One of `items` (never empty).
fn choose(rng: &mut fastrand::Rng, items: &[&'static str]) -> &'static str {
    items[rng.usize(..items.len())]
}

/// A last name in lowercase ASCII letters, as Faker's `domain_word`.
fn domain_word(rng: &mut fastrand::Rng, out: &mut String) {
    let word: &str = name::LastName().fake_with_rng(&mut Rng(rng));
    out.extend(
        word.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase()),
    );
}

/// `domain_word.tld`.
fn domain_name(rng: &mut fastrand::Rng, out: &mut String) {
    domain_word(rng, out);
    out.push('.');
    out.push_str(internet::DomainSuffix().fake_with_rng::<&str, _>(&mut Rng(rng)));
}

/// 3 to 5 digits.
fn building_number(rng: &mut fastrand::Rng, out: &mut String) {
    for _ in 0..rng.usize(3..=5) {
        out.push(rng.digit(10));
    }
}

/// A first or last name and a street suffix.
fn street_name(rng: &mut fastrand::Rng, out: &mut String) {
    let name: &str = if rng.bool() {
        name::FirstName().fake_with_rng(&mut Rng(rng))
    } else {
        name::LastName().fake_with_rng(&mut Rng(rng))
    };
    out.push_str(name);
    out.push(' ');
    out.push_str(address::StreetSuffix().fake_with_rng::<&str, _>(&mut Rng(rng)));
}

/// `building_number street_name`.
fn street_address(rng: &mut fastrand::Rng, out: &mut String) {
    building_number(rng, out);
    out.push(' ');
    street_name(rng, out);
}

/// Five digits, from 00501 to 99950 as Faker's en_US zipcodes.
fn zipcode(rng: &mut fastrand::Rng, out: &mut String) {
    let _ = write!(out, "{:05}", rng.u32(501..=99_950));
}

/// `n` lowercase hexadecimal digits.
fn hex(rng: &mut fastrand::Rng, n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(rng.digit(16));
    }
}

/// 4 to 8 lorem words, the first capitalized, and a full stop.
fn sentence(rng: &mut fastrand::Rng, out: &mut String) {
    for i in 0..rng.usize(4..=8) {
        let word: &str = lorem::Word().fake_with_rng(&mut Rng(rng));
        if i == 0 {
            let mut chars = word.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        } else {
            out.push(' ');
            out.push_str(word);
        }
    }
    out.push('.');
}

/// Now, in seconds since 1970 (UTC).
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A moment (UTC) from `from` to `to` seconds since 1970, and its
/// microseconds.
fn moment(rng: &mut fastrand::Rng, from: i64, to: i64) -> (chrono::NaiveDateTime, u32) {
    let seconds = rng.i64(from.min(to)..=to.max(from));
    let micros = rng.u32(0..1_000_000);
    let date = chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .naive_utc();
    (date, micros)
}

/// `YYYY-MM-DD`.
fn push_date(out: &mut String, date: chrono::NaiveDateTime) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    );
}

/// `HH:MM:SS`, then `.ffffff` unless the microseconds are 0 (as Python's
/// `str(datetime)` writes it).
fn push_time(out: &mut String, date: chrono::NaiveDateTime, micros: u32) {
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        date.hour(),
        date.minute(),
        date.second()
    );
    if micros > 0 {
        let _ = write!(out, ".{micros:06}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(faker: Faker, rng: &mut fastrand::Rng) -> String {
        let mut out = String::new();
        faker.render(rng, &mut out);
        out
    }

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for faker in Faker::ALL {
            assert_eq!(Faker::parse(faker.name()), Some(*faker));
        }
        assert_eq!(Faker::parse("Name"), None);
        assert_eq!(Faker::parse("nope"), None);
        assert_eq!(Faker::parse(""), None);
        assert_eq!(Faker::parse("name "), None);
    }

    #[test]
    fn every_provider_renders_something() {
        let mut rng = fastrand::Rng::with_seed(3);
        for faker in Faker::ALL {
            for _ in 0..200 {
                let value = render(*faker, &mut rng);
                assert!(!value.is_empty(), "{faker:?}");
                assert!(!value.contains('\u{FFFD}'), "{faker:?}: {value:?}");
            }
        }
    }

    #[test]
    fn formats_follow_fakers() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..500 {
            let email = render(Faker::Email, &mut rng);
            let (user, domain) = email.split_once('@').expect("an @");
            assert!(
                !user.is_empty() && domain.starts_with("example."),
                "{email}"
            );
            assert!(render(Faker::Ipv4, &mut rng)
                .parse::<std::net::Ipv4Addr>()
                .is_ok());
            assert!(render(Faker::Ipv6, &mut rng)
                .parse::<std::net::Ipv6Addr>()
                .is_ok());
            let uuid = uuid::Uuid::parse_str(&render(Faker::Uuid4, &mut rng)).expect("a uuid");
            assert_eq!(uuid.get_version_num(), 4);
            let n: u16 = render(Faker::RandomInt, &mut rng).parse().expect("an int");
            assert!(n <= 9999);
            assert!(["True", "False"].contains(&render(Faker::Boolean, &mut rng).as_str()));
            let date = render(Faker::Date, &mut rng);
            assert!(
                chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok(),
                "{date}"
            );
            let iso = render(Faker::Iso8601, &mut rng);
            assert!(
                chrono::NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
                "{iso}"
            );
            let past = render(Faker::PastDate, &mut rng);
            let future = render(Faker::FutureDate, &mut rng);
            assert!(past < future, "{past} {future}");
            let name = render(Faker::Name, &mut rng);
            assert_eq!(name.split(' ').count(), 2, "{name}");
            let zip = render(Faker::Zipcode, &mut rng);
            assert!(
                zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()),
                "{zip}"
            );
            let sentence = render(Faker::Sentence, &mut rng);
            assert!(
                sentence.ends_with('.') && sentence.starts_with(|c: char| c.is_ascii_uppercase()),
                "{sentence}"
            );
            assert!(render(Faker::Text, &mut rng).chars().count() <= 200);
            assert_eq!(render(Faker::Sha256, &mut rng).len(), 64);
            let url = render(Faker::Url, &mut rng);
            assert!(
                url.starts_with("http") && url.ends_with('/') && url::Url::parse(&url).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn values_are_fresh() {
        let mut rng = fastrand::Rng::new();
        let uuids: std::collections::HashSet<String> =
            (0..1000).map(|_| render(Faker::Uuid4, &mut rng)).collect();
        assert_eq!(uuids.len(), 1000);
        let emails: std::collections::HashSet<String> =
            (0..100).map(|_| render(Faker::Email, &mut rng)).collect();
        assert!(emails.len() > 50, "{emails:?}");
    }
}
