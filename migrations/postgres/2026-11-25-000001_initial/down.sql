DROP TABLE price_bars;
DROP TABLE price_ticks;
DROP TABLE assets;
DROP TABLE transactions;
DROP TABLE holdings;
DROP TABLE sessions;
DROP TABLE accounts;
