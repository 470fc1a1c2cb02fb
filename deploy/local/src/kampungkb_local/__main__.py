from kampungkb_local.stack import main

main()
