from backend import create_app, settle_heap

app = create_app()
settle_heap()
