/*
 * Mosquitto 2.0 plugin (plugin API version 5) that authenticates MQTT clients
 * the way the production gateway broker does.
 *
 * - The service account (plugin_opt_service_username and
 *   plugin_opt_service_password) logs in with a static password and may use
 *   every topic.
 * - Every other username must be a device id (lower-case letters, digits and
 *   '_') whose password is an HS256 JWT signed with plugin_opt_jwt_secret,
 *   with "sub" equal to the username and "exp" (epoch seconds) in the future.
 *   Such a client may use only predbat/devices/<username> and the topics
 *   below it.
 * - At every broker tick, each client whose token's "exp" has passed is
 *   kicked, so a connection ends at its token's expiry. Tokens are checked
 *   only at CONNECT, so several connections of one username with different
 *   tokens coexist.
 *
 * The plugin logs one line per accepted or rejected CONNECT and one per
 * expiry kick, each starting with "jwt_auth:". Usernames and client ids in
 * these lines are escaped: bytes other than [A-Za-z0-9_.-] appear as %XX, and
 * a missing value appears as "(null)". simulator/broker.py counts the lines.
 * Token contents other than "exp" are never logged.
 *
 * Build: gcc -shared -fPIC -o jwt_auth_plugin.so jwt_auth_plugin.c -lcrypto
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define LOG_PREFIX "jwt_auth: "
/* Longer passwords are rejected before any decoding. */
#define MAX_TOKEN_LENGTH 8192
/* Escaped usernames and client ids are cut to fit this buffer. */
#define ESCAPED_BUFFER_SIZE 512
#define REASON_BUFFER_SIZE 160
#define DEVICE_TOPIC_ROOT "predbat/devices/"

/* One authenticated device connection that is kicked when its token expires. */
struct tracked_client {
	const struct mosquitto *client;
	char *client_id;
	char *username;
	time_t expires_at;
	struct tracked_client *next;
};

struct plugin_state {
	mosquitto_plugin_id_t *plugin_id;
	unsigned char *jwt_secret;
	size_t jwt_secret_length;
	char *service_username;
	char *service_password;
	/* Oldest first: new entries are appended at the tail. */
	struct tracked_client *tracked_clients;
};

/* ---------------------------------------------------------------- logging */

/* Write value into buffer with every byte outside [A-Za-z0-9_.-] as %XX. */
static const char *escape_for_log(const char *value, char *buffer, size_t buffer_size)
{
	static const char hex_digits[] = "0123456789ABCDEF";
	size_t out = 0;

	if(value == NULL){
		snprintf(buffer, buffer_size, "(null)");
		return buffer;
	}
	for(const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++){
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
			|| (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-';
		size_t needed = plain ? 1 : 3;
		if(out + needed + 1 > buffer_size){
			break;
		}
		if(plain){
			buffer[out++] = (char)*p;
		}else{
			buffer[out++] = '%';
			buffer[out++] = hex_digits[*p >> 4];
			buffer[out++] = hex_digits[*p & 0x0F];
		}
	}
	buffer[out] = '\0';
	return buffer;
}

static void log_connect_result(bool accepted, const char *username, const char *client_id, const char *reason)
{
	char escaped_username[ESCAPED_BUFFER_SIZE];
	char escaped_client_id[ESCAPED_BUFFER_SIZE];

	mosquitto_log_printf(accepted ? MOSQ_LOG_NOTICE : MOSQ_LOG_WARNING,
			LOG_PREFIX "%s CONNECT username=%s client_id=%s reason=%s",
			accepted ? "accepted" : "rejected",
			escape_for_log(username, escaped_username, sizeof(escaped_username)),
			escape_for_log(client_id, escaped_client_id, sizeof(escaped_client_id)),
			reason);
}

/* ---------------------------------------------------------------- base64url */

static int base64url_value(unsigned char c)
{
	if(c >= 'A' && c <= 'Z') return c - 'A';
	if(c >= 'a' && c <= 'z') return c - 'a' + 26;
	if(c >= '0' && c <= '9') return c - '0' + 52;
	if(c == '-') return 62;
	if(c == '_') return 63;
	return -1;
}

/*
 * Decode unpadded base64url (RFC 7515 section 2) into a new NUL-terminated
 * buffer. Returns NULL on invalid input or when out of memory.
 */
static unsigned char *base64url_decode(const char *input, size_t input_length, size_t *output_length)
{
	unsigned char *output;
	uint32_t accumulator = 0;
	int bits = 0;
	size_t out = 0;

	if(input_length % 4 == 1){
		return NULL;
	}
	output = malloc(input_length * 3 / 4 + 1);
	if(output == NULL){
		return NULL;
	}
	for(size_t i = 0; i < input_length; i++){
		int value = base64url_value((unsigned char)input[i]);
		if(value < 0){
			free(output);
			return NULL;
		}
		accumulator = (accumulator << 6) | (uint32_t)value;
		bits += 6;
		if(bits >= 8){
			bits -= 8;
			output[out++] = (unsigned char)((accumulator >> bits) & 0xFF);
		}
	}
	output[out] = '\0';
	*output_length = out;
	return output;
}

/* ---------------------------------------------------------------- JSON */

/*
 * A minimal reader for the top-level members of a JSON object: enough to
 * read "alg", "sub" and "exp" from a JWT header or payload. It checks the
 * JSON syntax of everything it skips, and it hands back string values raw,
 * without decoding escapes.
 */
struct json_cursor {
	const char *position;
	const char *end;
};

enum json_type { JSON_MISSING, JSON_STRING, JSON_NUMBER, JSON_OTHER };

struct json_member {
	enum json_type type;
	const char *string_start;
	size_t string_length;
	bool string_has_escape;
	double number;
};

#define JSON_MAX_DEPTH 16

static void json_skip_whitespace(struct json_cursor *cursor)
{
	while(cursor->position < cursor->end
			&& (*cursor->position == ' ' || *cursor->position == '\t'
				|| *cursor->position == '\n' || *cursor->position == '\r')){
		cursor->position++;
	}
}

static bool json_read_string(struct json_cursor *cursor, const char **start, size_t *length, bool *has_escape)
{
	if(cursor->position >= cursor->end || *cursor->position != '"'){
		return false;
	}
	cursor->position++;
	*start = cursor->position;
	*has_escape = false;
	while(cursor->position < cursor->end){
		unsigned char c = (unsigned char)*cursor->position;
		if(c == '"'){
			*length = (size_t)(cursor->position - *start);
			cursor->position++;
			return true;
		}
		if(c < 0x20){
			return false;
		}
		if(c == '\\'){
			*has_escape = true;
			cursor->position++;
			if(cursor->position >= cursor->end){
				return false;
			}
			if(*cursor->position == 'u'){
				if(cursor->end - cursor->position < 5){
					return false;
				}
				cursor->position += 4;
			}
		}
		cursor->position++;
	}
	return false;
}

static bool json_read_number(struct json_cursor *cursor, double *number)
{
	char digits[64];
	size_t length = 0;
	char *parse_end;

	while(cursor->position + length < cursor->end){
		char c = cursor->position[length];
		if(!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')){
			break;
		}
		length++;
	}
	if(length == 0 || length >= sizeof(digits)){
		return false;
	}
	memcpy(digits, cursor->position, length);
	digits[length] = '\0';
	errno = 0;
	*number = strtod(digits, &parse_end);
	if(errno != 0 || parse_end != digits + length || !isfinite(*number)){
		return false;
	}
	cursor->position += length;
	return true;
}

static bool json_skip_value(struct json_cursor *cursor, int depth);

static bool json_skip_container(struct json_cursor *cursor, int depth, char close, bool with_keys)
{
	const char *start;
	size_t length;
	bool has_escape;

	if(depth > JSON_MAX_DEPTH){
		return false;
	}
	cursor->position++;
	json_skip_whitespace(cursor);
	if(cursor->position < cursor->end && *cursor->position == close){
		cursor->position++;
		return true;
	}
	for(;;){
		json_skip_whitespace(cursor);
		if(with_keys){
			if(!json_read_string(cursor, &start, &length, &has_escape)){
				return false;
			}
			json_skip_whitespace(cursor);
			if(cursor->position >= cursor->end || *cursor->position != ':'){
				return false;
			}
			cursor->position++;
		}
		if(!json_skip_value(cursor, depth + 1)){
			return false;
		}
		json_skip_whitespace(cursor);
		if(cursor->position >= cursor->end){
			return false;
		}
		if(*cursor->position == close){
			cursor->position++;
			return true;
		}
		if(*cursor->position != ','){
			return false;
		}
		cursor->position++;
	}
}

static bool json_skip_literal(struct json_cursor *cursor, const char *literal)
{
	size_t length = strlen(literal);
	if((size_t)(cursor->end - cursor->position) < length
			|| memcmp(cursor->position, literal, length) != 0){
		return false;
	}
	cursor->position += length;
	return true;
}

static bool json_skip_value(struct json_cursor *cursor, int depth)
{
	const char *start;
	size_t length;
	bool has_escape;
	double number;

	json_skip_whitespace(cursor);
	if(cursor->position >= cursor->end){
		return false;
	}
	switch(*cursor->position){
		case '"': return json_read_string(cursor, &start, &length, &has_escape);
		case '{': return json_skip_container(cursor, depth, '}', true);
		case '[': return json_skip_container(cursor, depth, ']', false);
		case 't': return json_skip_literal(cursor, "true");
		case 'f': return json_skip_literal(cursor, "false");
		case 'n': return json_skip_literal(cursor, "null");
		default: return json_read_number(cursor, &number);
	}
}

/*
 * Find the top-level member `key` of the JSON object in text. Returns false
 * when the text is not a valid JSON object or the key occurs more than once.
 * A missing key gives true with member->type == JSON_MISSING.
 */
static bool json_find_member(const char *text, size_t text_length, const char *key, struct json_member *member)
{
	struct json_cursor cursor = { text, text + text_length };
	size_t key_length = strlen(key);
	bool done = false;

	memset(member, 0, sizeof(*member));
	member->type = JSON_MISSING;

	json_skip_whitespace(&cursor);
	if(cursor.position >= cursor.end || *cursor.position != '{'){
		return false;
	}
	cursor.position++;
	json_skip_whitespace(&cursor);
	if(cursor.position < cursor.end && *cursor.position == '}'){
		cursor.position++;
		done = true;
	}
	while(!done){
		const char *name;
		size_t name_length;
		bool name_has_escape;
		bool is_key;

		json_skip_whitespace(&cursor);
		if(!json_read_string(&cursor, &name, &name_length, &name_has_escape)){
			return false;
		}
		json_skip_whitespace(&cursor);
		if(cursor.position >= cursor.end || *cursor.position != ':'){
			return false;
		}
		cursor.position++;
		json_skip_whitespace(&cursor);

		is_key = !name_has_escape && name_length == key_length && memcmp(name, key, key_length) == 0;
		if(is_key && member->type != JSON_MISSING){
			return false;
		}
		if(is_key && cursor.position < cursor.end && *cursor.position == '"'){
			member->type = JSON_STRING;
			if(!json_read_string(&cursor, &member->string_start, &member->string_length, &member->string_has_escape)){
				return false;
			}
		}else if(is_key && cursor.position < cursor.end
				&& (*cursor.position == '-' || (*cursor.position >= '0' && *cursor.position <= '9'))){
			member->type = JSON_NUMBER;
			if(!json_read_number(&cursor, &member->number)){
				return false;
			}
		}else{
			if(is_key){
				member->type = JSON_OTHER;
			}
			if(!json_skip_value(&cursor, 1)){
				return false;
			}
		}

		json_skip_whitespace(&cursor);
		if(cursor.position >= cursor.end){
			return false;
		}
		if(*cursor.position == '}'){
			cursor.position++;
			done = true;
		}else if(*cursor.position == ','){
			cursor.position++;
		}else{
			return false;
		}
	}
	json_skip_whitespace(&cursor);
	return cursor.position == cursor.end;
}

static bool json_string_equals(const struct json_member *member, const char *expected)
{
	size_t expected_length = strlen(expected);
	return member->type == JSON_STRING && !member->string_has_escape
		&& member->string_length == expected_length
		&& memcmp(member->string_start, expected, expected_length) == 0;
}

/* ---------------------------------------------------------------- tokens */

/*
 * Verify an HS256 JWT for username. On success store its "exp" in expires_at
 * and return true. On failure write a short reason (without token contents)
 * into reason and return false.
 */
static bool verify_token(const struct plugin_state *state, const char *username, const char *token,
		time_t now, time_t *expires_at, char *reason, size_t reason_size)
{
	const char *first_dot, *second_dot;
	unsigned char *header = NULL, *payload = NULL, *signature = NULL;
	size_t header_length, payload_length, signature_length;
	unsigned char expected_signature[EVP_MAX_MD_SIZE];
	unsigned int expected_length = 0;
	struct json_member member;
	bool valid = false;
	size_t token_length = strlen(token);

	if(token_length > MAX_TOKEN_LENGTH){
		snprintf(reason, reason_size, "token longer than %d bytes", MAX_TOKEN_LENGTH);
		return false;
	}
	first_dot = strchr(token, '.');
	second_dot = first_dot ? strchr(first_dot + 1, '.') : NULL;
	if(first_dot == NULL || second_dot == NULL || strchr(second_dot + 1, '.') != NULL){
		snprintf(reason, reason_size, "password is not a JWT (expected three dot-separated parts)");
		return false;
	}

	header = base64url_decode(token, (size_t)(first_dot - token), &header_length);
	if(header == NULL || !json_find_member((const char *)header, header_length, "alg", &member)){
		snprintf(reason, reason_size, "invalid JWT header");
		goto done;
	}
	if(!json_string_equals(&member, "HS256")){
		snprintf(reason, reason_size, "unsupported JWT algorithm (expected HS256)");
		goto done;
	}

	signature = base64url_decode(second_dot + 1, strlen(second_dot + 1), &signature_length);
	if(HMAC(EVP_sha256(), state->jwt_secret, (int)state->jwt_secret_length,
				(const unsigned char *)token, (size_t)(second_dot - token),
				expected_signature, &expected_length) == NULL){
		snprintf(reason, reason_size, "HMAC computation failed");
		goto done;
	}
	if(signature == NULL || signature_length != expected_length
			|| CRYPTO_memcmp(signature, expected_signature, expected_length) != 0){
		snprintf(reason, reason_size, "invalid signature");
		goto done;
	}

	payload = base64url_decode(first_dot + 1, (size_t)(second_dot - first_dot - 1), &payload_length);
	if(payload == NULL || !json_find_member((const char *)payload, payload_length, "sub", &member)){
		snprintf(reason, reason_size, "invalid JWT payload");
		goto done;
	}
	if(member.type == JSON_MISSING){
		snprintf(reason, reason_size, "token has no sub claim");
		goto done;
	}
	if(!json_string_equals(&member, username)){
		snprintf(reason, reason_size, "token sub does not match the username");
		goto done;
	}
	if(!json_find_member((const char *)payload, payload_length, "exp", &member)){
		snprintf(reason, reason_size, "invalid JWT payload");
		goto done;
	}
	if(member.type != JSON_NUMBER){
		snprintf(reason, reason_size, "token has no numeric exp claim");
		goto done;
	}
	/* The token is valid while now < exp, the rule of RFC 7519 section 4.1.4. */
	if(member.number <= (double)now){
		snprintf(reason, reason_size, "token expired (exp %.0f, now %lld)", member.number, (long long)now);
		goto done;
	}
	*expires_at = member.number > 4.0e18 ? (time_t)4000000000000000000LL : (time_t)ceil(member.number);
	valid = true;

done:
	free(header);
	free(payload);
	free(signature);
	return valid;
}

static bool is_device_id(const char *username)
{
	if(*username == '\0'){
		return false;
	}
	for(const char *p = username; *p != '\0'; p++){
		if(!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')){
			return false;
		}
	}
	return true;
}

/* Compare two NUL-terminated secrets in time that does not depend on where they differ. */
static bool secrets_equal(const char *a, const char *b)
{
	unsigned char digest_a[SHA256_DIGEST_LENGTH];
	unsigned char digest_b[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)a, strlen(a), digest_a);
	SHA256((const unsigned char *)b, strlen(b), digest_b);
	return CRYPTO_memcmp(digest_a, digest_b, sizeof(digest_a)) == 0;
}

/* ---------------------------------------------------------------- tracking */

static void free_tracked_client(struct tracked_client *entry)
{
	free(entry->client_id);
	free(entry->username);
	free(entry);
}

static void forget_client(struct plugin_state *state, const struct mosquitto *client)
{
	struct tracked_client **link = &state->tracked_clients;

	while(*link != NULL){
		if((*link)->client == client){
			struct tracked_client *entry = *link;
			*link = entry->next;
			free_tracked_client(entry);
		}else{
			link = &(*link)->next;
		}
	}
}

static int track_client(struct plugin_state *state, const struct mosquitto *client,
		const char *client_id, const char *username, time_t expires_at)
{
	struct tracked_client *entry;
	struct tracked_client **tail;

	/* A freed connection's address can be reused by a new one. */
	forget_client(state, client);

	entry = calloc(1, sizeof(*entry));
	if(entry == NULL){
		return MOSQ_ERR_NOMEM;
	}
	entry->client = client;
	entry->client_id = strdup(client_id);
	entry->username = strdup(username);
	entry->expires_at = expires_at;
	if(entry->client_id == NULL || entry->username == NULL){
		free_tracked_client(entry);
		return MOSQ_ERR_NOMEM;
	}
	tail = &state->tracked_clients;
	while(*tail != NULL){
		tail = &(*tail)->next;
	}
	*tail = entry;
	return MOSQ_ERR_SUCCESS;
}

/* Whether a later entry than `entry` uses the same client id. */
static bool has_newer_connection(const struct tracked_client *entry)
{
	for(const struct tracked_client *other = entry->next; other != NULL; other = other->next){
		if(strcmp(other->client_id, entry->client_id) == 0){
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- callbacks */

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *auth = event_data;
	struct plugin_state *state = userdata;
	const char *client_id = mosquitto_client_id(auth->client);
	char reason[REASON_BUFFER_SIZE];
	time_t expires_at = 0;
	int rc;

	(void)event;

	if(auth->username == NULL){
		log_connect_result(false, NULL, client_id, "no username");
		return MOSQ_ERR_AUTH;
	}
	if(auth->password == NULL){
		log_connect_result(false, auth->username, client_id, "no password");
		return MOSQ_ERR_AUTH;
	}
	if(strcmp(auth->username, state->service_username) == 0){
		if(!secrets_equal(auth->password, state->service_password)){
			log_connect_result(false, auth->username, client_id, "wrong service account password");
			return MOSQ_ERR_AUTH;
		}
		log_connect_result(true, auth->username, client_id, "service account");
		return MOSQ_ERR_SUCCESS;
	}
	if(!is_device_id(auth->username)){
		log_connect_result(false, auth->username, client_id, "username is not a device id ([a-z0-9_]+)");
		return MOSQ_ERR_AUTH;
	}
	if(client_id == NULL){
		/* Without a client id the connection cannot be kicked at expiry. */
		log_connect_result(false, auth->username, client_id, "no client id");
		return MOSQ_ERR_AUTH;
	}
	if(!verify_token(state, auth->username, auth->password, time(NULL), &expires_at, reason, sizeof(reason))){
		log_connect_result(false, auth->username, client_id, reason);
		return MOSQ_ERR_AUTH;
	}
	rc = track_client(state, auth->client, client_id, auth->username, expires_at);
	if(rc != MOSQ_ERR_SUCCESS){
		log_connect_result(false, auth->username, client_id, "out of memory");
		return rc;
	}
	snprintf(reason, sizeof(reason), "valid token, exp %lld", (long long)expires_at);
	log_connect_result(true, auth->username, client_id, reason);
	return MOSQ_ERR_SUCCESS;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *check = event_data;
	struct plugin_state *state = userdata;
	const char *username = mosquitto_client_username(check->client);
	size_t root_length = strlen(DEVICE_TOPIC_ROOT);
	size_t username_length;
	const char *rest;

	(void)event;

	if(username == NULL || check->topic == NULL){
		return MOSQ_ERR_ACL_DENIED;
	}
	if(strcmp(username, state->service_username) == 0){
		return MOSQ_ERR_SUCCESS;
	}
	username_length = strlen(username);
	if(strncmp(check->topic, DEVICE_TOPIC_ROOT, root_length) != 0
			|| strncmp(check->topic + root_length, username, username_length) != 0){
		return MOSQ_ERR_ACL_DENIED;
	}
	rest = check->topic + root_length + username_length;
	if(*rest == '\0' || *rest == '/'){
		return MOSQ_ERR_SUCCESS;
	}
	return MOSQ_ERR_ACL_DENIED;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct plugin_state *state = userdata;
	time_t now = time(NULL);
	bool found;

	(void)event;
	(void)event_data;

	/*
	 * Kicking a client runs on_disconnect, which edits the list, so each
	 * expired entry is unlinked before its kick and the scan starts over.
	 */
	do{
		struct tracked_client **link = &state->tracked_clients;
		found = false;
		while(*link != NULL){
			struct tracked_client *entry = *link;
			if(entry->expires_at <= now){
				char escaped_username[ESCAPED_BUFFER_SIZE];
				char escaped_client_id[ESCAPED_BUFFER_SIZE];
				/*
				 * A newer connection with the same client id has replaced
				 * this one, and a kick by client id would hit the newer one.
				 */
				bool replaced = has_newer_connection(entry);

				*link = entry->next;
				found = true;
				if(!replaced){
					mosquitto_log_printf(MOSQ_LOG_NOTICE,
							LOG_PREFIX "kicked client username=%s client_id=%s reason=token expired at %lld",
							escape_for_log(entry->username, escaped_username, sizeof(escaped_username)),
							escape_for_log(entry->client_id, escaped_client_id, sizeof(escaped_client_id)),
							(long long)entry->expires_at);
					/* with_will=true: the broker drops the client, so its will is sent. */
					mosquitto_kick_client_by_clientid(entry->client_id, true);
				}
				free_tracked_client(entry);
				break;
			}
			link = &entry->next;
		}
	}while(found);
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *disconnect = event_data;

	(void)event;
	forget_client(userdata, disconnect->client);
	return MOSQ_ERR_SUCCESS;
}

/* ---------------------------------------------------------------- plugin API */

static void free_state(struct plugin_state *state)
{
	if(state == NULL){
		return;
	}
	while(state->tracked_clients != NULL){
		struct tracked_client *entry = state->tracked_clients;
		state->tracked_clients = entry->next;
		free_tracked_client(entry);
	}
	if(state->jwt_secret != NULL){
		OPENSSL_cleanse(state->jwt_secret, state->jwt_secret_length);
	}
	if(state->service_password != NULL){
		OPENSSL_cleanse(state->service_password, strlen(state->service_password));
	}
	free(state->jwt_secret);
	free(state->service_username);
	free(state->service_password);
	free(state);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == MOSQ_PLUGIN_VERSION){
			return MOSQ_PLUGIN_VERSION;
		}
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	struct plugin_state *state = calloc(1, sizeof(*state));
	int rc;

	if(state == NULL){
		return MOSQ_ERR_NOMEM;
	}
	state->plugin_id = identifier;
	for(int i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "jwt_secret") == 0){
			free(state->jwt_secret);
			state->jwt_secret = (unsigned char *)strdup(options[i].value);
			state->jwt_secret_length = strlen(options[i].value);
		}else if(strcmp(options[i].key, "service_username") == 0){
			free(state->service_username);
			state->service_username = strdup(options[i].value);
		}else if(strcmp(options[i].key, "service_password") == 0){
			free(state->service_password);
			state->service_password = strdup(options[i].value);
		}
	}
	if(state->jwt_secret == NULL || state->jwt_secret_length == 0
			|| state->service_username == NULL || state->service_username[0] == '\0'
			|| state->service_password == NULL || state->service_password[0] == '\0'){
		mosquitto_log_printf(MOSQ_LOG_ERR, LOG_PREFIX "plugin_opt_jwt_secret, plugin_opt_service_username "
				"and plugin_opt_service_password must all be set and not empty");
		free_state(state);
		return MOSQ_ERR_INVAL;
	}

	rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, state);
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, state);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, state);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, state);
	}
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, LOG_PREFIX "registering callbacks failed with error %d", rc);
		mosquitto_callback_unregister(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		mosquitto_callback_unregister(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(identifier, MOSQ_EVT_TICK, on_tick, NULL);
		mosquitto_callback_unregister(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		free_state(state);
		return rc;
	}
	*userdata = state;
	mosquitto_log_printf(MOSQ_LOG_INFO, LOG_PREFIX "loaded, service account %s", state->service_username);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct plugin_state *state = userdata;

	(void)options;
	(void)option_count;

	if(state != NULL){
		mosquitto_callback_unregister(state->plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		mosquitto_callback_unregister(state->plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(state->plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
		mosquitto_callback_unregister(state->plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		free_state(state);
	}
	return MOSQ_ERR_SUCCESS;
}
