// parleyd: the Parley chat server.

#include <cstdio>

int main() {
  std::fprintf(stderr, "parleyd: not yet able to serve\n");
  return 1;
}
