//! The CRM core: contacts and their transactions, imported from the existing CRM,
//! and the links of social identities to them.

pub mod contact;
pub mod currency;
pub mod identity;
pub mod import;
