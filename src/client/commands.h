// The commands of `parley`, each taking the arguments after its name and returning the
// process's exit status (cli_options.h: 0 done, 1 failed, 2 bad usage).

#ifndef PARLEY_CLIENT_COMMANDS_H_
#define PARLEY_CLIENT_COMMANDS_H_

#include <string_view>
#include <vector>

namespace parley::client {

using Args = std::vector<std::string_view>;

int RunChat(const Args& args);
int RunSend(const Args& args);
int RunListen(const Args& args);
int RunToken(const Args& args);

}  // namespace parley::client

#endif  // PARLEY_CLIENT_COMMANDS_H_
