# Runs at install time (see CMakeLists.txt next to it): writes the systemd unit and the
# production config with the paths of the prefix being installed to.
#
# REQUIRES: PARLEY_PACKAGING_DIR, the folder of the templates.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(PARLEY_CONFDIR /etc/parley)
else()
  set(PARLEY_CONFDIR ${CMAKE_INSTALL_PREFIX}/etc/parley)
endif()
set(PARLEY_BINDIR ${CMAKE_INSTALL_PREFIX}/bin)

# A macro, not a function: the manifest list lives in the caller's scope.
macro(parley_install_configured template destination)
  set(_parley_target "$ENV{DESTDIR}${destination}")
  message(STATUS "Installing: ${_parley_target}")
  configure_file(${PARLEY_PACKAGING_DIR}/${template} ${_parley_target} @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES ${_parley_target})
endmacro()

parley_install_configured(parleyd.service.in
                          ${CMAKE_INSTALL_PREFIX}/lib/systemd/system/parleyd.service)

# An operator's edited config is never overwritten by a later `cmake --install`: the new
# default goes next to it. (The package leaves that choice to dpkg: the file is a conffile.)
set(_parley_config ${PARLEY_CONFDIR}/parleyd.yaml)
file(READ ${PARLEY_PACKAGING_DIR}/parleyd.yaml.in _parley_template)
string(CONFIGURE "${_parley_template}" _parley_wanted @ONLY)
if(EXISTS "$ENV{DESTDIR}${_parley_config}")
  file(READ "$ENV{DESTDIR}${_parley_config}" _parley_present)
  if(NOT _parley_present STREQUAL _parley_wanted)
    message(STATUS "Keeping the edited $ENV{DESTDIR}${_parley_config}")
    set(_parley_config ${_parley_config}.default)
  endif()
endif()
parley_install_configured(parleyd.yaml.in ${_parley_config})
