-- Exchange rates the admin supplies (docs/currencies.md): one unit of
-- `currency` is `rate` units of `base`. Only the rates to the current
-- reporting currency (setting `reporting-currency`) convert anything.
CREATE TABLE currency_rates (
    base TEXT NOT NULL,
    currency TEXT NOT NULL,
    rate DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (base, currency)
);

-- A contact's lifetime value is in `ltv_currency`; `unconverted` counts its
-- orders and refunds in currencies without a rate, left out of it.
ALTER TABLE contact_scores ADD COLUMN ltv_currency TEXT;
ALTER TABLE contact_scores ADD COLUMN unconverted BIGINT NOT NULL DEFAULT 0;
