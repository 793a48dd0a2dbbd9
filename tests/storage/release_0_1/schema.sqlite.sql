CREATE TABLE attendance (
	session_id INTEGER NOT NULL, 
	telegram_id BIGINT NOT NULL, 
	answer VARCHAR(16) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (session_id, telegram_id)
);
CREATE TABLE cohort (
	id INTEGER NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	site VARCHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE contact_request (
	id INTEGER NOT NULL, 
	telegram_id BIGINT NOT NULL, 
	chat_id BIGINT NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	site VARCHAR, 
	municipality VARCHAR, 
	source VARCHAR, 
	answers JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	owner_id BIGINT, 
	owner_name VARCHAR, 
	claimed_at DATETIME, 
	status_changed_at DATETIME, 
	version INTEGER NOT NULL, 
	card_chat_id BIGINT, 
	card_message_id BIGINT, 
	PRIMARY KEY (id)
);
CREATE TABLE coordinator (
	telegram_id BIGINT NOT NULL, 
	name VARCHAR, 
	added_at DATETIME NOT NULL, 
	PRIMARY KEY (telegram_id)
);
CREATE TABLE enrollment (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	telegram_id BIGINT NOT NULL, 
	chat_id BIGINT NOT NULL, 
	request_id INTEGER, 
	active BOOLEAN NOT NULL, 
	enrolled_at DATETIME NOT NULL, 
	left_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (cohort_id, telegram_id)
);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	chat_id BIGINT, 
	payload JSON NOT NULL, 
	due_at DATETIME NOT NULL, 
	claimed_until DATETIME, 
	sent_at DATETIME, 
	attempts INTEGER NOT NULL, 
	last_error VARCHAR, 
	"key" VARCHAR(255), 
	sending_since DATETIME, 
	topic VARCHAR(64), 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
CREATE TABLE processed_update (
	update_id BIGINT NOT NULL, 
	processed_at DATETIME NOT NULL, 
	PRIMARY KEY (update_id)
);
CREATE TABLE programme_session (
	id INTEGER NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	title VARCHAR NOT NULL, 
	place VARCHAR NOT NULL, 
	starts_at DATETIME NOT NULL, 
	ends_at DATETIME NOT NULL, 
	cancelled BOOLEAN NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (cohort_id, "key")
);
CREATE TABLE request_event (
	id INTEGER NOT NULL, 
	request_id INTEGER NOT NULL, 
	actor_id BIGINT, 
	actor_name VARCHAR, 
	action VARCHAR(32) NOT NULL, 
	from_status VARCHAR(32) NOT NULL, 
	to_status VARCHAR(32) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE resident (
	id INTEGER NOT NULL, 
	telegram_id BIGINT NOT NULL, 
	chat_id BIGINT NOT NULL, 
	state JSON NOT NULL, 
	unreachable BOOLEAN NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (telegram_id)
);
CREATE TABLE staff_message (
	chat_id BIGINT NOT NULL, 
	message_id BIGINT NOT NULL, 
	request_id INTEGER NOT NULL, 
	PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX ix_contact_request_telegram_status ON contact_request (telegram_id, status);
CREATE INDEX ix_enrollment_cohort_id ON enrollment (cohort_id);
CREATE INDEX ix_enrollment_telegram_id ON enrollment (telegram_id);
CREATE INDEX ix_outbox_due ON outbox (sent_at, due_at);
CREATE INDEX ix_outbox_topic ON outbox (topic);
CREATE INDEX ix_programme_session_cohort_id ON programme_session (cohort_id);
CREATE INDEX ix_request_event_request_id ON request_event (request_id);
CREATE INDEX ix_staff_message_request_id ON staff_message (request_id);
