/* test_fuzzcases_conn.c - the inputs with which fuzz/fuzz_conn.c found bugs
 * in the server, replayed through that same harness (linked in, without
 * libFuzzer), so each bug stays fixed. Each input runs in a child process:
 * the harness aborts on a broken property and the sanitizers abort on a bad
 * access, and a test that crashed would count nothing. An input's first byte
 * is the harness's knob (see fuzz/fuzz_conn.c: 0x01 sends alice's handshake
 * first, 0x04 cuts what follows into one-byte reads, 0x20 sets
 * --max-pending 1k); the same inputs are seeds in fuzz/corpus/conn/. */
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "tests/unit/check.h"

/* Runs one input through the harness; true when it ends well. */
static bool survives(const void *input, size_t len)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        LLVMFuzzerInitialize(NULL, NULL);
        LLVMFuzzerTestOneInput(input, len);
        _exit(0);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

#define SURVIVES(bytes) survives(bytes, sizeof bytes - 1)

/* The knob, then text as one masked text frame (RFC 6455 section 5.2; the
 * zero key leaves it in the clear), text being under 126 bytes. */
static bool survives_text(uint8_t knob, const char *text)
{
    uint8_t in[2 + 4 + 126] = {knob, 0x81};
    size_t n = strlen(text);

    in[2] = (uint8_t)(0x80 | n);
    memcpy(in + 7, text, n);
    return survives(in, 7 + n);
}

int main(void)
{
    /* A frame header completed by the last byte of a read left zero payload
     * bytes to take, and the session's append_msg did memcpy(NULL + 0, p, 0):
     * undefined, and fatal under -fsanitize=undefined. */
    CHECK(SURVIVES("\x05"
                   "\x81\x82\0\0\0\0{}"));
    /* An empty first fragment reached the same memcpy within one read. */
    CHECK(SURVIVES("\x01"
                   "\x01\x80\0\0\0\0"
                   "\x80\x91\0\0\0\0{\"messageType\":1}"));

    /* The 101 answer and the replayed history are queued in one turn; once
     * their sum passed --max-pending, conn.c's drop_slow_reader dropped all
     * that was not yet started, the 101 included, and the client read a
     * close frame where the HTTP answer should be. */
    CHECK(survives_text(0x21, "{\"messageType\":1,\"content\":\"hello all\"}"));

    /* A Single to a user who is not online is answered with an error that
     * names the user, cut to 64 bytes by connmgr_route: cut inside a
     * character, the text frame was not UTF-8 (section 8.1 then obliges the
     * client to fail the connection). "a" and 40 "é": the cut splits one. */
    char json[128] = "{\"messageType\":0,\"to\":\"a";
    for (int i = 0; i < 40; i++)
        strcat(json, "\xc3\xa9");
    strcat(json, "\"}");
    CHECK(survives_text(0x01, json));
    return check_summary("fuzzcases-conn");
}
