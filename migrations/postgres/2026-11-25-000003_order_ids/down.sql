DROP TABLE order_ids;
