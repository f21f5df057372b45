-- Usernames and emails are unique whatever their case: `ALICE` cannot register beside `alice`,
-- nor `Bob@Example.com` beside `bob@example.com`. (A database that already holds two accounts
-- differing only in case cannot take this migration: rename one of them first.)
CREATE UNIQUE INDEX accounts_username_any_case ON accounts (lower(username));
CREATE UNIQUE INDEX accounts_email_any_case ON accounts (lower(email));
