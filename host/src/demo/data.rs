//! The demo world's data: a fictional e-bike brand, its customers, what they
//! say and the brand's CRM. Written for the demo; no real people. Nothing here
//! is a network's shape: each demo network renders people and posts in its own.

/// Someone on the networks.
pub struct Person {
    pub handle: &'static str,
    pub name: &'static str,
    /// Empty when they wrote none.
    pub bio: &'static str,
    pub followers: u64,
    /// A website the network verified as theirs (it links back to the profile).
    pub website: Option<&'static str>,
}

/// What a customer says, and where; every post mentions the brand.
pub struct Post {
    /// The network it is written on, as the demo network names its API
    /// (`DemoNetwork::api`); a reply is on the network of the post it answers.
    pub on: &'static str,
    /// Index into [`PEOPLE`].
    pub author: usize,
    pub text: &'static str,
    /// Index into [`POSTS`] of the post this one answers.
    pub reply_to: Option<usize>,
}

/// The networks of [`Post::on`].
const MASTODON: &str = "Mastodon";
const THREADS: &str = "Threads";

/// The brand's own account.
pub const BRAND: Person = Person {
    handle: "lumenbikes",
    name: "Lumen Bikes",
    bio: "E-bikes for everyday riding. Support: support@lumenbikes.example",
    followers: 15400,
    website: None,
};

/// The customers (and a mechanic who helps them).
pub const PEOPLE: &[Person] = &[
    Person {
        handle: "maya",
        name: "Maya Okafor",
        bio: "Commuter, 12 km each way. Coffee first.",
        followers: 1840,
        website: Some("https://mayarides.example"),
    },
    Person {
        handle: "tom_b",
        name: "Tom Becker",
        bio: "Dad of three, cargo bike convert",
        followers: 212,
        website: None,
    },
    Person {
        handle: "lina",
        name: "Lina Sørensen",
        bio: "Product designer. Copenhagen.",
        followers: 5320,
        website: Some("https://lina.design.example"),
    },
    Person {
        handle: "raj",
        name: "Raj Patel",
        bio: "Weekend trails, weekday spreadsheets",
        followers: 96,
        website: None,
    },
    Person {
        handle: "ghost_rider",
        name: "ghost rider",
        bio: "",
        followers: 12,
        website: None,
    },
    Person {
        handle: "ellie",
        name: "Ellie Chen",
        bio: "Nurse, night shifts, rides home at 7am",
        followers: 430,
        website: None,
    },
    Person {
        handle: "marco",
        name: "Marco Rossi",
        bio: "Bike mechanic. Ask me anything about hub motors.",
        followers: 2975,
        website: Some("https://marcofixes.example"),
    },
    Person {
        handle: "sam",
        name: "Sam Wright",
        bio: "",
        followers: 58,
        website: None,
    },
    Person {
        handle: "ines",
        name: "Inês Costa",
        bio: "Cycling advocate. Safer streets for everyone.",
        followers: 8120,
        website: None,
    },
    Person {
        handle: "ben",
        name: "Ben Adler",
        bio: "Early adopter, occasional complainer",
        followers: 640,
        website: None,
    },
];

/// The customers' posts, oldest first: twelve on Mastodon, whose profiles
/// tell who the CRM's customers are ([`contacts_csv`]), and eight on
/// Threads, which names authors by username only (Raj's and Sam's, a thread
/// of Lina's and Maya's, one of Marco's answers and of ghost rider's posts).
pub const POSTS: &[Post] = &[
    Post {
        on: MASTODON,
        author: 0,
        text: "Three months with my @lumenbikes X2 and I still grin every morning. Best purchase of the year!",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 1,
        text: "@lumenbikes my order #LB-20931 was due two weeks ago. No tracking, no answer to my emails. What is going on?",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 2,
        text: "The new @lumenbikes colours are gorgeous. That sage green 😍",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 3,
        text: "Does the @lumenbikes X2 fit someone who is 195 cm? Thinking of buying one before spring.",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 6,
        text: "@raj yes, I'm 193 and ride the L frame; raise the seatpost to the max line and you're fine.",
        reply_to: Some(3),
    },
    Post {
        on: MASTODON,
        author: 4,
        text: "@lumenbikes battery died after 8 km today. Totally unacceptable for a bike this expensive.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 5,
        text: "Rode home after a night shift on my @lumenbikes and honestly it made my week. Thank you!",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 7,
        text: "@lumenbikes is the app down? It keeps crashing when I try to unlock the bike.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 9,
        text: "Support chat at @lumenbikes kept me waiting 45 minutes and then closed. I'm seriously thinking of switching to another brand.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 8,
        text: "Great to see @lumenbikes sponsoring the car-free Sunday. More of this please!",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 1,
        text: "@lumenbikes still nothing on order #LB-20931. I want to cancel my order and get a refund.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 6,
        text: "@ghost_rider that's the firmware 2.3 bug, update in the app and the range comes back.",
        reply_to: Some(5),
    },
    Post {
        on: THREADS,
        author: 2,
        text: "Is there a rack for the @lumenbikes X2 that fits two panniers? Can't find it on the site.",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 0,
        text: "@lina the rear rack from the accessories page takes two, I use it daily.",
        reply_to: Some(12),
    },
    Post {
        on: THREADS,
        author: 3,
        text: "Ordered! @lumenbikes X2 in sage green. Can't wait.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 9,
        text: "Brakes squeal after a week. Not impressed, @lumenbikes.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 5,
        text: "Not sure the @lumenbikes lock is worth the price, but the bike itself is lovely.",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 7,
        text: "@lumenbikes the app works again, thanks for the quick fix!",
        reply_to: None,
    },
    Post {
        on: THREADS,
        author: 4,
        text: "Cancel my subscription to the @lumenbikes care plan. Never used it once.",
        reply_to: None,
    },
    Post {
        on: MASTODON,
        author: 8,
        text: "@lumenbikes any plans for a kids' seat that fits the X2? Asking for our family cycling group.",
        reply_to: None,
    },
];

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
