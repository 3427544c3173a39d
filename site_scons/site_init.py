"""Let ``env.Tool("dyntools")`` find the dyntools tool of this site_scons directory.

SCons puts this directory on ``sys.path`` and runs this file; adding the package's
``TOOLPATH`` (a directory holding only the dyntools tool) to the default tool path
makes the tool loader find it.
"""

import dyntools
import SCons.Tool

if dyntools.TOOLPATH not in SCons.Tool.DefaultToolpath:
    SCons.Tool.DefaultToolpath.append(dyntools.TOOLPATH)
