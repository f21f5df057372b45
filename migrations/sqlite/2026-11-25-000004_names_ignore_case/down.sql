DROP INDEX accounts_email_any_case;
DROP INDEX accounts_username_any_case;
