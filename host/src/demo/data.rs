//! The demo network's data: a fictional e-bike brand, its customers and what
//! they say, as Mastodon entities. Written for the demo; no real people.

use serde_json::{Value, json};

pub const BRAND: &str = "lumenbikes";
const HOST: &str = "demo.social";
const BASE: &str = "https://demo.social";

/// (handle, display name, bio, followers, website)
const PEOPLE: &[(&str, &str, &str, u64, Option<&str>)] = &[
    (
        "maya",
        "Maya Okafor",
        "Commuter, 12 km each way. Coffee first.",
        1840,
        Some("https://mayarides.example"),
    ),
    ("tom_b", "Tom Becker", "Dad of three, cargo bike convert", 212, None),
    (
        "lina",
        "Lina Sørensen",
        "Product designer. Copenhagen.",
        5320,
        Some("https://lina.design.example"),
    ),
    ("raj", "Raj Patel", "Weekend trails, weekday spreadsheets", 96, None),
    ("ghost_rider", "ghost rider", "", 12, None),
    (
        "ellie",
        "Ellie Chen",
        "Nurse, night shifts, rides home at 7am",
        430,
        None,
    ),
    (
        "marco",
        "Marco Rossi",
        "Bike mechanic. Ask me anything about hub motors.",
        2975,
        Some("https://marcofixes.example"),
    ),
    ("sam", "Sam Wright", "", 58, None),
    (
        "ines",
        "Inês Costa",
        "Cycling advocate. Safer streets for everyone.",
        8120,
        None,
    ),
    ("ben", "Ben Adler", "Early adopter, occasional complainer", 640, None),
];

/// (author index, text, replying to the post at this index)
const POSTS: &[(usize, &str, Option<usize>)] = &[
    (
        0,
        "Three months with my @lumenbikes X2 and I still grin every morning. Best purchase of the year!",
        None,
    ),
    (
        1,
        "@lumenbikes my order #LB-20931 was due two weeks ago. No tracking, no answer to my emails. What is going on?",
        None,
    ),
    (2, "The new @lumenbikes colours are gorgeous. That sage green 😍", None),
    (
        3,
        "Does the @lumenbikes X2 fit someone who is 195 cm? Thinking of buying one before spring.",
        None,
    ),
    (
        6,
        "@raj yes, I'm 193 and ride the L frame; raise the seatpost to the max line and you're fine.",
        Some(3),
    ),
    (
        4,
        "@lumenbikes battery died after 8 km today. Totally unacceptable for a bike this expensive.",
        None,
    ),
    (
        5,
        "Rode home after a night shift on my @lumenbikes and honestly it made my week. Thank you!",
        None,
    ),
    (
        7,
        "@lumenbikes is the app down? It keeps crashing when I try to unlock the bike.",
        None,
    ),
    (
        9,
        "Support chat at @lumenbikes kept me waiting 45 minutes and then closed. I'm seriously thinking of switching to another brand.",
        None,
    ),
    (
        8,
        "Great to see @lumenbikes sponsoring the car-free Sunday. More of this please!",
        None,
    ),
    (
        1,
        "@lumenbikes still nothing on order #LB-20931. I want to cancel my order and get a refund.",
        None,
    ),
    (
        6,
        "@ellie that's the firmware 2.3 bug, update in the app and the range comes back.",
        Some(5),
    ),
    (
        2,
        "Is there a rack for the @lumenbikes X2 that fits two panniers? Can't find it on the site.",
        None,
    ),
    (
        0,
        "@lina the rear rack from the accessories page takes two, I use it daily.",
        Some(12),
    ),
    (3, "Ordered! @lumenbikes X2 in sage green. Can't wait.", None),
    (9, "Brakes squeal after a week. Not impressed, @lumenbikes.", None),
    (
        5,
        "Not sure the @lumenbikes lock is worth the price, but the bike itself is lovely.",
        None,
    ),
    (7, "@lumenbikes the app works again, thanks for the quick fix!", None),
    (
        4,
        "Cancel my subscription to the @lumenbikes care plan. Never used it once.",
        None,
    ),
    (
        8,
        "@lumenbikes any plans for a kids' seat that fits the X2? Asking for our family cycling group.",
        None,
    ),
];

fn account(i: usize, base: &str) -> Value {
    let (handle, name, bio, followers, website) = PEOPLE[i];
    let fields: Vec<Value> = website
        .iter()
        .map(|w| {
            // The instance verified the link: the site links back with rel="me".
            let link = format!("<a href=\"{w}\" rel=\"me\">{w}</a>");
            json!({"name": "Website", "value": link, "verified_at": "2024-03-02T09:00:00.000+00:00"})
        })
        .collect();
    json!({
        "id": (100 + i).to_string(),
        "username": handle,
        "acct": format!("{handle}@{HOST}"),
        "display_name": name,
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": "2024-03-01T00:00:00.000Z",
        "note": if bio.is_empty() { String::new() } else { format!("<p>{bio}</p>") },
        "url": format!("{base}/@{handle}"),
        "uri": format!("{base}/users/{handle}"),
        "avatar": format!("{base}/avatars/{handle}.png"),
        "avatar_static": format!("{base}/avatars/{handle}.png"),
        "header": "",
        "header_static": "",
        "followers_count": followers,
        "following_count": 180,
        "statuses_count": 420,
        "last_status_at": "2026-11-22",
        "emojis": [],
        "fields": fields,
    })
}

/// The brand's own account.
pub fn brand() -> Value {
    let base = BASE;
    json!({
        "id": "1",
        "username": BRAND,
        "acct": BRAND,
        "display_name": "Lumen Bikes",
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": "2023-01-10T00:00:00.000Z",
        "note": "<p>E-bikes for everyday riding. Support: support@lumenbikes.example</p>",
        "url": format!("{base}/@{BRAND}"),
        "uri": format!("{base}/users/{BRAND}"),
        "avatar": "",
        "avatar_static": "",
        "header": "",
        "header_static": "",
        "followers_count": 15400,
        "following_count": 120,
        "statuses_count": 980,
        "last_status_at": "2026-11-22",
        "emojis": [],
        "fields": [],
    })
}

/// The customers' posts, oldest first, each mentioning the brand or answering another customer.
pub fn statuses() -> Vec<Value> {
    let base = BASE;
    POSTS
        .iter()
        .enumerate()
        .map(|(i, (author, text, reply_to))| {
            let id = 113_000_000_000_000_000u64 + i as u64;
            let parent = reply_to.map(|r| 113_000_000_000_000_000u64 + r as u64);
            let (handle, ..) = PEOPLE[*author];
            json!({
                "id": id.to_string(),
                "created_at": format!("2026-11-22T{:02}:{:02}:00.000Z", 8 + i / 3, (i * 17) % 60),
                "in_reply_to_id": parent.map(|p| p.to_string()),
                "in_reply_to_account_id": reply_to.map(|r| (100 + POSTS[r].0).to_string()),
                "sensitive": false,
                "spoiler_text": "",
                "visibility": "public",
                "language": "en",
                "uri": format!("{base}/users/{handle}/statuses/{id}"),
                "url": format!("{base}/@{handle}/{id}"),
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "edited_at": null,
                "content": format!("<p>{}</p>", html_escape::encode_safe(text)),
                "reblog": null,
                "account": account(*author, base),
                "media_attachments": [],
                "mentions": [{"id": "1", "username": BRAND, "acct": BRAND, "url": format!("{base}/@{BRAND}")}],
                "tags": [],
                "emojis": [],
                "card": null,
                "poll": null,
            })
        })
        .collect()
}

/// The brand's CRM: the people above who are customers, and others who never
/// post. Maya, Lina and Marco show a verified link to their website on their
/// profile and Inês's record lists her handle (links made at once); Tom and
/// Ellie match by name only (links proposed for review). Columns as `socialcrm import contacts`.
pub fn contacts_csv() -> String {
    let mut csv = String::from("id,name,email,website,company,mastodon\n");
    for (id, name, email, website, handle) in [
        (
            "C-1001",
            "Maya Okafor",
            "maya@example.com",
            "https://mayarides.example",
            "",
        ),
        ("C-1002", "Tom Becker", "tom.becker@example.com", "", ""),
        (
            "C-1003",
            "Lina Sorensen",
            "lina@example.com",
            "https://lina.design.example",
            "",
        ),
        ("C-1004", "Ellie Chen", "e.chen@example.com", "", ""),
        (
            "C-1005",
            "Marco Rossi",
            "marco@example.com",
            "https://marcofixes.example",
            "",
        ),
        ("C-1006", "Ines Costa", "ines@example.com", "", "ines@demo.social"),
        ("C-1007", "Ben Adler", "ben.adler@example.com", "", ""),
    ] {
        csv.push_str(&format!("{id},{name},{email},{website},,{handle}\n"));
    }
    // Customers who never post: the value percentiles need a population.
    for i in 0..40 {
        csv.push_str(&format!(
            "C-2{i:03},Customer {i},customer{i}@example.com,,Acme {},\n",
            i % 7
        ));
    }
    csv
}

/// Orders of those contacts, dated relative to `now` (Unix ms) so recency
/// and churn read naturally whenever the demo runs.
pub fn transactions_csv(now: i64) -> String {
    const DAY: i64 = 86_400_000;
    let date = |days_ago: i64| {
        time::OffsetDateTime::from_unix_timestamp((now - days_ago * DAY) / 1000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    };
    let mut csv = String::from("id,contact_id,kind,amount,currency,occurred_at,reference,product\n");
    let mut n = 0;
    let mut order = |csv: &mut String, contact: &str, amount: f64, days_ago: i64, product: &str| {
        n += 1;
        csv.push_str(&format!(
            "T-{n:05},{contact},purchase,{amount:.2},EUR,{},LB-{:06},{product}\n",
            date(days_ago),
            400_000 + n
        ));
    };
    for (contact, amount, days_ago, product) in [
        ("C-1001", 3299.0, 95, "X2"),
        ("C-1001", 89.0, 20, "Pannier"),
        ("C-1002", 4890.0, 210, "Cargo"),
        ("C-1003", 3299.0, 40, "X2"),
        ("C-1004", 2199.0, 330, "City"),
        ("C-1005", 129.0, 12, "Brake pads"),
        ("C-1005", 3299.0, 400, "X2"),
        ("C-1006", 2199.0, 60, "City"),
        ("C-1007", 3299.0, 14, "X2"),
        ("C-1007", 49.0, 7, "Bell"),
    ] {
        order(&mut csv, contact, amount, days_ago, product);
    }
    for i in 0..40_i64 {
        order(
            &mut csv,
            &format!("C-2{i:03}"),
            150.0 + (i * 97 % 2800) as f64,
            10 + i * 11,
            "City",
        );
    }
    csv
}
