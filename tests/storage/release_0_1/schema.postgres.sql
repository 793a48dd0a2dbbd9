
CREATE TABLE attendance (
    session_id integer NOT NULL,
    telegram_id bigint NOT NULL,
    answer character varying(16) NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE TABLE cohort (
    id integer NOT NULL,
    name character varying(120) NOT NULL,
    site character varying(32) NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE cohort_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE cohort_id_seq OWNED BY cohort.id;

CREATE TABLE contact_request (
    id integer NOT NULL,
    telegram_id bigint NOT NULL,
    chat_id bigint NOT NULL,
    status character varying(32) NOT NULL,
    site character varying,
    municipality character varying,
    source character varying,
    answers json NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    owner_id bigint,
    owner_name character varying,
    claimed_at timestamp with time zone,
    status_changed_at timestamp with time zone,
    version integer NOT NULL,
    card_chat_id bigint,
    card_message_id bigint
);

CREATE SEQUENCE contact_request_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE contact_request_id_seq OWNED BY contact_request.id;

CREATE TABLE coordinator (
    telegram_id bigint NOT NULL,
    name character varying,
    added_at timestamp with time zone NOT NULL
);

CREATE TABLE enrollment (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    telegram_id bigint NOT NULL,
    chat_id bigint NOT NULL,
    request_id integer,
    active boolean NOT NULL,
    enrolled_at timestamp with time zone NOT NULL,
    left_at timestamp with time zone
);

CREATE SEQUENCE enrollment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE enrollment_id_seq OWNED BY enrollment.id;

CREATE TABLE outbox (
    id integer NOT NULL,
    kind character varying(64) NOT NULL,
    chat_id bigint,
    payload json NOT NULL,
    due_at timestamp with time zone NOT NULL,
    claimed_until timestamp with time zone,
    sent_at timestamp with time zone,
    attempts integer NOT NULL,
    last_error character varying,
    key character varying(255),
    sending_since timestamp with time zone,
    topic character varying(64)
);

CREATE SEQUENCE outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE outbox_id_seq OWNED BY outbox.id;

CREATE TABLE processed_update (
    update_id bigint NOT NULL,
    processed_at timestamp with time zone NOT NULL
);

CREATE TABLE programme_session (
    id integer NOT NULL,
    cohort_id integer NOT NULL,
    key character varying(255) NOT NULL,
    title character varying NOT NULL,
    place character varying NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    cancelled boolean NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE programme_session_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE programme_session_id_seq OWNED BY programme_session.id;

CREATE TABLE request_event (
    id integer NOT NULL,
    request_id integer NOT NULL,
    actor_id bigint,
    actor_name character varying,
    action character varying(32) NOT NULL,
    from_status character varying(32) NOT NULL,
    to_status character varying(32) NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE SEQUENCE request_event_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE request_event_id_seq OWNED BY request_event.id;

CREATE TABLE resident (
    id integer NOT NULL,
    telegram_id bigint NOT NULL,
    chat_id bigint NOT NULL,
    state json NOT NULL,
    unreachable boolean NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE resident_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE resident_id_seq OWNED BY resident.id;

CREATE TABLE staff_message (
    chat_id bigint NOT NULL,
    message_id bigint NOT NULL,
    request_id integer NOT NULL
);

ALTER TABLE ONLY cohort ALTER COLUMN id SET DEFAULT nextval('cohort_id_seq'::regclass);

ALTER TABLE ONLY contact_request ALTER COLUMN id SET DEFAULT nextval('contact_request_id_seq'::regclass);

ALTER TABLE ONLY enrollment ALTER COLUMN id SET DEFAULT nextval('enrollment_id_seq'::regclass);

ALTER TABLE ONLY outbox ALTER COLUMN id SET DEFAULT nextval('outbox_id_seq'::regclass);

ALTER TABLE ONLY programme_session ALTER COLUMN id SET DEFAULT nextval('programme_session_id_seq'::regclass);

ALTER TABLE ONLY request_event ALTER COLUMN id SET DEFAULT nextval('request_event_id_seq'::regclass);

ALTER TABLE ONLY resident ALTER COLUMN id SET DEFAULT nextval('resident_id_seq'::regclass);

ALTER TABLE ONLY attendance
    ADD CONSTRAINT attendance_pkey PRIMARY KEY (session_id, telegram_id);

ALTER TABLE ONLY cohort
    ADD CONSTRAINT cohort_name_key UNIQUE (name);

ALTER TABLE ONLY cohort
    ADD CONSTRAINT cohort_pkey PRIMARY KEY (id);

ALTER TABLE ONLY contact_request
    ADD CONSTRAINT contact_request_pkey PRIMARY KEY (id);

ALTER TABLE ONLY coordinator
    ADD CONSTRAINT coordinator_pkey PRIMARY KEY (telegram_id);

ALTER TABLE ONLY enrollment
    ADD CONSTRAINT enrollment_cohort_id_telegram_id_key UNIQUE (cohort_id, telegram_id);

ALTER TABLE ONLY enrollment
    ADD CONSTRAINT enrollment_pkey PRIMARY KEY (id);

ALTER TABLE ONLY outbox
    ADD CONSTRAINT outbox_key_key UNIQUE (key);

ALTER TABLE ONLY outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY processed_update
    ADD CONSTRAINT processed_update_pkey PRIMARY KEY (update_id);

ALTER TABLE ONLY programme_session
    ADD CONSTRAINT programme_session_cohort_id_key_key UNIQUE (cohort_id, key);

ALTER TABLE ONLY programme_session
    ADD CONSTRAINT programme_session_pkey PRIMARY KEY (id);

ALTER TABLE ONLY request_event
    ADD CONSTRAINT request_event_pkey PRIMARY KEY (id);

ALTER TABLE ONLY resident
    ADD CONSTRAINT resident_pkey PRIMARY KEY (id);

ALTER TABLE ONLY resident
    ADD CONSTRAINT resident_telegram_id_key UNIQUE (telegram_id);

ALTER TABLE ONLY staff_message
    ADD CONSTRAINT staff_message_pkey PRIMARY KEY (chat_id, message_id);

CREATE INDEX ix_contact_request_telegram_status ON contact_request USING btree (telegram_id, status);

CREATE INDEX ix_enrollment_cohort_id ON enrollment USING btree (cohort_id);

CREATE INDEX ix_enrollment_telegram_id ON enrollment USING btree (telegram_id);

CREATE INDEX ix_outbox_due ON outbox USING btree (sent_at, due_at);

CREATE INDEX ix_outbox_topic ON outbox USING btree (topic);

CREATE INDEX ix_programme_session_cohort_id ON programme_session USING btree (cohort_id);

CREATE INDEX ix_request_event_request_id ON request_event USING btree (request_id);

CREATE INDEX ix_staff_message_request_id ON staff_message USING btree (request_id);


