//! The CRM core: contacts and their transactions, imported from the existing CRM.

pub mod contact;
pub mod import;
