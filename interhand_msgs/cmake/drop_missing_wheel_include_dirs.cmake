# The ROS 2 wheels on PyPI export imported targets (e.g. std_msgs__rosidl_generator_py) whose
# INTERFACE_INCLUDE_DIRECTORIES name Python include dirs of the wheels' build machine under
# /opt/python/. CMake refuses imported targets with non-existent include dirs, so at the end of
# configuration we drop exactly those entries. On a real ROS install no such entry exists and
# this does nothing.

function(_interhand_drop_missing_wheel_include_dirs)
  get_property(_targets DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  foreach(_target IN LISTS _targets)
    get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_kept "")
    set(_dropped FALSE)
    foreach(_dir IN LISTS _dirs)
      if(_dir MATCHES "^/opt/python/" AND NOT EXISTS "${_dir}")
        set(_dropped TRUE)
      else()
        list(APPEND _kept "${_dir}")
      endif()
    endforeach()
    if(_dropped)
      set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
    endif()
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _interhand_drop_missing_wheel_include_dirs)
