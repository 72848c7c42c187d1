/* Baseline for "start-up time to READY=1": a process that does nothing but tell the service
 * manager it is ready (sd_notify by hand, as pingjiad does), i.e. the cost of exec + one datagram. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) return 1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    if (address.sun_path[0] == '@') address.sun_path[0] = 0;
    socklen_t length = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    const char message[] = "READY=1";
    sendto(fd, message, sizeof message - 1, 0, (struct sockaddr *)&address, length);
    pause();
    return 0;
}
